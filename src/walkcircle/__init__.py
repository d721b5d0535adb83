"""walkcircle: 15-minute life-circle accessibility on real walking networks."""

from walkcircle.errors import WalkcircleError
from walkcircle.network import Snapped, WalkNetwork

__version__ = "0.1.0"

__all__ = ["Snapped", "WalkNetwork", "WalkcircleError", "__version__"]
