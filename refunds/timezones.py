"""The desk's business clock: China time, whatever the server's TIME_ZONE.

The platforms' deadlines and export times, the harassment guard's contact hours and the
warehouse's batch cutoff are all China time; TIME_ZONE (default Asia/Shanghai) only says
how pages show times.
"""

from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
