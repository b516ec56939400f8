"""tracklet-s3: artifacts on Amazon S3 and S3-compatible stores, for ``s3://bucket/prefix``.

Importing this package does not import boto3; the SDK loads when the first repository
is built (see :mod:`tracklet_s3.artifacts`).
"""
