"""One way for the benchmarks to run a command as a whole process and read its cost.

``MEASURE_SCRIPT`` is run as ``python -c MEASURE_SCRIPT COMMAND...`` in a fresh wrapper process per
command, so one command's peak memory does not hide another's: it prints one JSON object with the
command's wall time, CPU time (user + system, the command and every process it started), system
time, peak resident set of its largest process (``getrusage(RUSAGE_CHILDREN)``), the peak of the
resident sets of the command and all its descendants summed (``tree_peak_mib``: sampled every 20 ms
with psutil, which dask.distributed installs; ``dosimetry analyze`` is the main process plus its
report render processes, issue 20's memory budget counts them all), minor page faults, return
code, standard output and the end of its standard error.
"""

MEASURE_SCRIPT = r"""
import json, resource, subprocess, sys, threading, time
import psutil
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
tree_peak = [0]
def sample():
    try:
        root = psutil.Process(proc.pid)
    except psutil.Error:
        return
    while proc.poll() is None:
        total = 0
        try:
            members = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        for member in members:
            try:
                total += member.memory_info().rss
            except psutil.Error:
                pass
        tree_peak[0] = max(tree_peak[0], total)
        time.sleep(0.02)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
stdout, stderr = proc.communicate()
seconds = time.perf_counter() - t0
sampler.join()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "system_seconds": usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
                  "tree_peak_mib": tree_peak[0] / 2**20,
                  "minor_faults": usage.ru_minflt, "returncode": proc.returncode,
                  "stdout": stdout, "stderr": stderr[-3000:]}))
"""
