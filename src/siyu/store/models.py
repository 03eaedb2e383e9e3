"""Every domain's tables in one metadata, for Alembic (domains never import each other's)."""

from siyu.audiences import models as _audiences  # noqa: F401
from siyu.channels import models as _channels  # noqa: F401
from siyu.clv import models as _clv  # noqa: F401
from siyu.experiments import models as _experiments  # noqa: F401
from siyu.identity import models as _identity  # noqa: F401
from siyu.identity.matching import models as _matching  # noqa: F401
from siyu.ingest import models as _ingest  # noqa: F401
from siyu.journeys import models as _journeys  # noqa: F401
from siyu.loyalty import models as _loyalty  # noqa: F401
from siyu.records import models as _records  # noqa: F401
from siyu.store.base import Base
from siyu.tags import models as _tags  # noqa: F401
from siyu.tenants import models as _tenants  # noqa: F401
from siyu.traits import models as _traits  # noqa: F401
from siyu.users import models as _users  # noqa: F401

metadata = Base.metadata
