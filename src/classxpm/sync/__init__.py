"""The sync: plan each fund against what XPM holds, then create, link or update it, safely and once."""
