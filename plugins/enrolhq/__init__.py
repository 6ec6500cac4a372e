"""EnrolHQ side of the pipelines: the API v2 client, the shared access-token stores and the Airflow hook."""
