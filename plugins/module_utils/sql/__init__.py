# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SQL core: reading vendor scripts (DDL reader, batch splitter), the schema model, its diff and the repair plan."""
