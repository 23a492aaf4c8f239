"""One way for the benchmarks to run a command as a whole process and read its cost.

``MEASURE_SCRIPT`` is run as ``python -c MEASURE_SCRIPT COMMAND...`` in a fresh wrapper process per
command, so one command's peak memory does not hide another's: it prints one JSON object with the
command's wall time, CPU time (user + system), system time, peak resident set
(``getrusage(RUSAGE_CHILDREN)``), minor page faults, return code, standard output and the end of
its standard error.
"""

MEASURE_SCRIPT = r"""
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "system_seconds": usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
                  "minor_faults": usage.ru_minflt, "returncode": proc.returncode,
                  "stdout": proc.stdout, "stderr": proc.stderr[-3000:]}))
"""
