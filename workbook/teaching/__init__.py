"""The teaching kit: student editions, per-student seeds, grading (own and nbgrader), the offline site, PDFs.

``student`` (editions, weekly releases), ``seeds`` (per-student seeds), ``grade`` and
``nbgrader_release`` (grading), ``site`` and ``pdf`` (reading and paper), ``course`` and ``guide``
(the instructor's guide).  These commands work on notebooks (``nbformat``/``nbclient``/
``nbconvert``, which JupyterLab already installs), never on the model's state; importing
``workbook`` does not import them.
"""
