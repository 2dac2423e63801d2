"""The model-in-the-loop services: queue priorities (``scoring``), settings (``settings``),
periodic retraining (``retraining``), machine annotators (``judges``, ``hybrid``)."""
