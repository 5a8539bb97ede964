"""Cloud: the features stage's Spark ETL on AWS EMR.

With ``spark=emr_serverless`` or ``spark=emr`` the ``features`` stage does not start Spark
here: :mod:`~demandcast.cloud.submit` packs the library and its pure-Python dependencies
into zips (:mod:`~demandcast.cloud.bundle`), uploads them to S3 under keys made of their
content hash, copies the raw data once per ``data.dvc`` version
(:mod:`~demandcast.cloud.data_sync`), submits the same entry point
(``stages/features.py``) to EMR Serverless or as a step of an EMR on EC2 cluster
(:mod:`~demandcast.cloud.emr`), waits with progress and a timeout, shows the driver's log
tail on failure, and syncs the result back into ``artifacts/features`` in exactly the local
layout, so DVC and every later stage cannot tell which engine ran. :mod:`~demandcast.cloud.aws`
turns missing credentials, regions and buckets into one clear message each.
"""
