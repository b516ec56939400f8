"""tracklet-azure: artifacts in Azure Blob Storage.

:class:`tracklet_azure.artifacts.AzureBlobArtifactRepository` serves
``wasbs://container@account.blob.core.windows.net/path`` (and ``wasb://``) and
``abfss://container@account.dfs.core.windows.net/path`` artifact URIs. ADLS Gen2
accounts answer the Blob API too, so ``abfss://`` goes to the same account's Blob
endpoint and one SDK, azure-storage-blob, serves both.

Importing this package loads no Azure SDK; it loads when a repository is first built.
"""
