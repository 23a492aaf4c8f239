"""Cohort orchestration built on the :mod:`dosimetry` library (``dosimetry batch``, ``correlate``).

One patient's analysis is the library's (:func:`dosimetry.load_patient`); everything that runs many
patients, stores a cohort or correlates it lives here, and the library never imports it:

* :mod:`pipelines.analysis`: the seam. ``PatientAnalysis = Callable[[PatientInputs,
  AnalysisParameters, Path], PatientResult]`` and its frozen value types (``MetricRow``,
  ``ConstraintRow``, ``CourseRow``, ``RoiRow``); ``load_analysis("module:callable")``.
* :mod:`pipelines.analyze`: ``full_analysis``, the default callable (the whole ``dosimetry
  analyze`` through the library's facade).
* :mod:`pipelines.default_analysis`: ``dvh_analysis``, a lighter DVH-only callable (current course:
  DVH metrics on the physical/RBE-weighted dose, BED2, BED9 and EQD2).
* :mod:`pipelines.adapters`: ``patient_folder(inputs, scratch)`` gives a folder-based analysis
  (such as ``analyze PATIENT_DIR``) one folder per patient whatever the layout.
* :mod:`pipelines.discovery`: ``discover_patients(root)`` from DICOM headers (folder per patient
  or grouped by PatientID).
* :mod:`pipelines.paths`: ``safe_component``, ``unique_keys``, ``inside`` (output paths from
  untrusted DICOM values).
* :mod:`pipelines.atomic`: atomic file writes and atomic publication of a patient's folder.
* :mod:`pipelines.hashing`: content SHA-256 run keys for resumability.
* :mod:`pipelines.store`: the cohort database (SQLAlchemy Core; schema in its docstring).
* :mod:`pipelines.csv_out`: the cohort ``metrics.csv``.
* :mod:`pipelines.batch`: ``run_batch(root, out, ...) -> BatchSummary`` (in-process, process
  pool, or Dask distributed); the coordinator records each outcome, then publishes it.
* :mod:`pipelines.worker`: one patient's task and outcome, ``analyse_patient`` (runs in a worker).
* :mod:`pipelines.executors`: the in-process, process-pool and Dask executors.
* :mod:`pipelines.lifecycle`: workers die with the batch; SIGTERM stops it like Ctrl-C.

Usage from Python::

    from pipelines.batch import run_batch
    summary = run_batch(Path("cohort"), Path("out"), workers=2)          # full_analysis
    summary = run_batch(Path("cohort"), Path("out"), analysis=my_analysis, scheduler_address="tcp://host:8786")
"""
