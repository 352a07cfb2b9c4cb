"""Findings: the rule language, the built-in catalog, evaluation and (later) the Finding lifecycle.

Phase 1 is pure Python over plain data (``findings.rules``, ``findings.pricing``): no models, no
Django imports, so the engine can run in a test, a Celery task or ``bench/rules_eval.py`` alike.
"""
