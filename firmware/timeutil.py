# Calendar arithmetic for UTC, independent of the port's epoch (esp32 counts
# from 2000, rp2 and unix from 1970): the token's time is Unix seconds worked
# out from the RTC's date fields. Pure logic; every intermediate stays a small
# int (< 2**30) so callers on 32-bit boards don't allocate.

SECONDS_PER_DAY = 86400


def days_from_civil(year, month, day):
    """Days since 1970-01-01 for a proleptic Gregorian date."""
    if month <= 2:
        year -= 1
    era = year // 400
    yoe = year - era * 400
    mp = month - 3 if month > 2 else month + 9
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(days):
    """(year, month, day) for a day count since 1970-01-01."""
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year, month, day


def weekday(days):
    """ISO weekday 1 (Monday) .. 7 (Sunday); 1970-01-01 was a Thursday."""
    return (days + 3) % 7 + 1


def to_unix(year, month, day, hour, minute, second):
    return days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second


def from_unix(t):
    """(year, month, day, hour, minute, second, weekday) for Unix seconds."""
    days = t // SECONDS_PER_DAY
    sod = t - days * SECONDS_PER_DAY
    y, m, d = civil_from_days(days)
    return y, m, d, sod // 3600, (sod // 60) % 60, sod % 60, weekday(days)


def mod_period(days, sod, period):
    """(days * 86400 + sod) % period without forming the large product."""
    return ((days % period) * (SECONDS_PER_DAY % period) + sod) % period
