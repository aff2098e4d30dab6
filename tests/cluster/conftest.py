"""Cluster tests share the compat suite's harness (tests/compat/cluster.py)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "compat"))
