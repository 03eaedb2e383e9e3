"""Platform export connectors: the files operators download from Tmall, JD, Douyin, Youzan,
POS and the WeChat mini-program, read through one mapping engine into canonical records."""

from siyu.ingest.formats.engine import platform_column
from siyu.ingest.formats.inputs import AUTO, FormatError, Plan, open_format_inputs, plan_inputs
from siyu.ingest.formats.spec import FormatSpec, MappingError, builtin_formats, load_mapping
from siyu.ingest.formats.tables import TableError, open_table

__all__ = [
    "AUTO",
    "FormatError",
    "FormatSpec",
    "MappingError",
    "Plan",
    "TableError",
    "builtin_formats",
    "load_mapping",
    "open_format_inputs",
    "open_table",
    "plan_inputs",
    "platform_column",
]
