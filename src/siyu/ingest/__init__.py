"""Import: canonical files and API batches in; bad records quarantined, never dropped."""

from siyu.ingest.formats import FormatError, MappingError, TableError, builtin_formats
from siyu.ingest.pipeline import WorkerError
from siyu.ingest.readers import csv_row_to_record, open_records
from siyu.ingest.schemas import ImportRunView, IngestReport, QuarantineEntry, RecordResult
from siyu.ingest.service import (
    MAX_API_BATCH,
    BulkUnavailableError,
    batch_size_for,
    export_quarantine,
    fix_quarantined,
    get_quarantined,
    ingest_files,
    ingest_records,
    list_import_runs,
    list_quarantine,
    retry_quarantine,
    stage_records,
    use_bulk,
)

# Everything a platform export can be refused for before the import starts.
FormatProblem = (FormatError, MappingError, TableError)

__all__ = [
    "FormatError",
    "FormatProblem",
    "MappingError",
    "TableError",
    "WorkerError",
    "builtin_formats",
    "MAX_API_BATCH",
    "BulkUnavailableError",
    "batch_size_for",
    "ImportRunView",
    "IngestReport",
    "QuarantineEntry",
    "RecordResult",
    "csv_row_to_record",
    "export_quarantine",
    "fix_quarantined",
    "get_quarantined",
    "ingest_files",
    "ingest_records",
    "list_import_runs",
    "list_quarantine",
    "open_records",
    "retry_quarantine",
    "stage_records",
    "use_bulk",
]
