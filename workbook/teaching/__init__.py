"""The teaching kit: a student edition of the chapters and a static, offline HTML site.

These commands work on notebooks (``nbformat``/``nbconvert``, which JupyterLab already
installs), never on the model's state; importing ``workbook`` does not import them.
"""
