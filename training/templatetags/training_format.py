from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def signed(value, digits: int = 3) -> str:
    """``floatformat`` with a leading + on gains, for change columns (-0.012, +0.030)."""
    text = floatformat(value, digits)
    return f"+{text}" if value > 0 else text
