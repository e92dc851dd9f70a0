"""borderx: a federation gateway for signed known-shipper designations and violation flags."""

__version__ = "0.1.0"
