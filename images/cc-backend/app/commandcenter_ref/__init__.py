# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""CommandCenter reference backend: a stand-in for the real CommandCenter backend
image that honours its contract (see images/cc-backend/Dockerfile)."""
