"""Data-quality rates (三率) and their reports: completeness, upload rate, timeliness, abnormal rate.

``config`` (settings, imported by the cloud config, so this package imports nothing heavy at
its top), ``period`` (statistics periods in a local calendar), ``rates`` (the computation, numpy),
``report`` (rates + region roll-up + problem lists from a store), ``export`` (CSV, JSON, XLSX).
"""
