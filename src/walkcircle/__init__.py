"""walkcircle: 15-minute life-circle accessibility on real walking networks."""

from walkcircle.errors import WalkcircleError
from walkcircle.network import Snapped, WalkNetwork
from walkcircle.study import Study, StudyConfig

__version__ = "0.1.0"

__all__ = ["Snapped", "Study", "StudyConfig", "WalkNetwork", "WalkcircleError", "__version__"]
