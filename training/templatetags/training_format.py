from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def signed(value, digits: int = 3) -> str:
    """``floatformat`` with a leading + on gains, for change columns (-0.012, +0.030)."""
    text = floatformat(value, digits)
    return f"+{text}" if value > 0 else text


def duration_words(seconds) -> str:
    """Seconds in the units a person reads: "45 s", "12 min", "1 h 04 min", "2 d 3 h"."""
    s = max(0, round(float(seconds)))
    if s < 60:
        return f"{s} s"
    m = round(s / 60)
    if m < 60:
        return f"{m} min"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h} h {m:02d} min"
    d, h = divmod(h, 24)
    return f"{d} d {h} h"


@register.filter
def duration_human(seconds) -> str:
    if seconds in (None, ""):
        return ""
    return duration_words(seconds)
