"""Import: canonical files and API batches in; bad records quarantined, never dropped."""

from siyu.ingest.readers import csv_row_to_record, open_records
from siyu.ingest.schemas import IngestReport, QuarantineEntry, RecordResult
from siyu.ingest.service import (
    MAX_API_BATCH,
    export_quarantine,
    ingest_files,
    ingest_records,
    list_quarantine,
    retry_quarantine,
)

__all__ = [
    "MAX_API_BATCH",
    "IngestReport",
    "QuarantineEntry",
    "RecordResult",
    "csv_row_to_record",
    "export_quarantine",
    "ingest_files",
    "ingest_records",
    "list_quarantine",
    "open_records",
    "retry_quarantine",
]
