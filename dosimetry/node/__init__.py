"""``dosimetry serve``: a DICOM Storage SCP that analyses each course as soon as it is complete.

Modules: :mod:`~dosimetry.node.config` (settings), :mod:`~dosimetry.node.objects` (what is known of
each received object), :mod:`~dosimetry.node.storage` (atomic storage under patient/study, de-duplication,
the index), :mod:`~dosimetry.node.completeness` (when a course is complete), :mod:`~dosimetry.node.scheduler`
(settling time, timeouts, pending analyses persisted across restarts), :mod:`~dosimetry.node.runner`
and :mod:`~dosimetry.node.analysis` (the analysis in a child process), :mod:`~dosimetry.node.sender`
(maps to the destination AE), :mod:`~dosimetry.node.jsonlog` (the JSON-lines logs) and
:mod:`~dosimetry.node.scp` (the pynetdicom server). Import :class:`~dosimetry.node.scp.StorageNode`
from its module (pynetdicom is imported only there).
"""
