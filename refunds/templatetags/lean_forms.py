"""Bootstrap 5 form markup written in Python: crispy-forms' bootstrap5 HTML, without its cost.

`{{ form.field|lean_field }}` is `{{ form.field|as_crispy_field }}` and `{% lean_form form %}`
is `{% crispy form %}`: the same elements, names, ids, classes, labels tied to their inputs,
help texts and error messages. Why: crispy renders every field through about eight nested
templates, and Django renders every `<option>` through a template of its own; on the queue
(nine filter fields, some sixty options) and the case page that was most of the server time
(docs/PERFORMANCE.md). Here a field is a few `format_html` calls.

Only what these pages use is written here: text-like inputs, textareas, selects (single and
multiple), checkboxes and hidden fields, in forms whose helper keeps crispy's default layout
and options. Anything else (a crispy Layout, file or radio widgets, a widget with its own
template, horizontal forms…) is handed to crispy unchanged, so a form renders correctly
whichever path it takes; tests/views/test_lean_forms.py compares both paths.
"""

from __future__ import annotations

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from crispy_forms.templatetags.crispy_forms_tags import CrispyFormNode
from django import forms, template
from django.conf import settings
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from ..escaping import escape as _e

register = template.Library()

_WIDGETS = "django/forms/widgets/"
_INPUT_TEMPLATES = frozenset(
    f"{_WIDGETS}{name}.html"
    for name in ("input", "text", "number", "email", "url", "password", "hidden", "search",
                 "tel", "date", "datetime", "time", "color", "checkbox")
)
_TEXTAREA = f"{_WIDGETS}textarea.html"
_SELECT = f"{_WIDGETS}select.html"
_OPTION = f"{_WIDGETS}select_option.html"
_KNOWN_TEMPLATES = _INPUT_TEMPLATES | {_TEXTAREA, _SELECT}
_BASEINPUT = "bootstrap5/layout/baseinput.html"
# The helper options whose defaults this module writes; any other value goes to crispy.
_DEFAULTS = {"label_class": "", "field_class": "", "help_text_inline": False,
             "form_show_labels": True, "form_show_errors": True,
             "field_template": "bootstrap5/field.html", "form_error_title": ""}


def _has_defaults(options: dict) -> bool:
    return all(options.get(name, value) == value for name, value in _DEFAULTS.items())


def _attrs(attrs: dict) -> str:
    """Django's widgets/attrs.html: `False` leaves the attribute out, `True` writes its name."""
    return "".join(
        f" {name}" if value is True else f' {_e(name)}="{_e(str(value))}"'
        for name, value in attrs.items() if value is not False
    )


def _css_class(widget: forms.Widget, extra: str) -> str:
    """The class crispy gives a widget: its own, the widget's class name, then `extra`."""
    name = type(widget).__name__.lower()
    name = getattr(settings, "CRISPY_CLASS_CONVERTERS", {}).get(name, name)
    css = widget.attrs.get("class", "")
    css = (f"{css} {name}" if name not in css else css) if css else name
    words = css.split()
    return " ".join([css, *(word for word in extra.split() if word not in words)])


def _options(groups) -> str:
    html = []
    for group_name, options, _index in groups:
        if group_name:
            html.append(format_html('\n  <optgroup label="{}">', group_name))
        html.extend(f'\n  <option value="{_e(str(option["value"]))}"{_attrs(option["attrs"])}>'
                    f'{_e(option["label"])}</option>' for option in options)
        if group_name:
            html.append("\n  </optgroup>")
    return "".join(html)


def _is_plain(widget: forms.Widget) -> bool:
    """Whether the widget renders with Django's own template for its kind, nothing else."""
    return (widget.template_name in _KNOWN_TEMPLATES and type(widget).render is forms.Widget.render
            and getattr(widget, "option_template_name", _OPTION) == _OPTION)


def _widget(field: forms.BoundField, extra_class: str | None) -> SafeString:
    """What `field.as_widget()` writes, with crispy's classes (none when `extra_class` is None,
    as crispy does for hidden fields). A widget with a template or `render` of its own (e.g.
    django-filter's BooleanWidget) is rendered by Django: only the markup around it is ours."""
    widget = field.field.widget
    attrs = {} if extra_class is None else {"class": _css_class(widget, extra_class)}
    if field.field.localize or not _is_plain(widget):
        return field.as_widget(attrs=attrs)
    attrs = field.build_widget_attrs(attrs, widget)
    if field.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", field.auto_id)
    context = widget.get_context(field.html_name, field.value(), attrs)["widget"]
    flat = mark_safe(_attrs(context["attrs"]))
    if widget.template_name == _SELECT:
        return format_html('<select name="{}"{}>{}\n</select>', context["name"], flat,
                           mark_safe(_options(context["optgroups"])))
    if widget.template_name == _TEXTAREA:
        return format_html('<textarea name="{}"{}>\n{}</textarea>', context["name"], flat,
                           context["value"] or "")
    value = context["value"]
    value = "" if value is None else format_html(' value="{}"', str(value))
    return format_html('<input type="{}" name="{}"{}{}>', context["type"], context["name"],
                       value, flat)


def _errors_and_help(field: forms.BoundField, error_tag: str) -> SafeString:
    html = SafeString()
    if field.errors:
        html = format_html(
            '<div id="{}_error" class="invalid-feedback">{}</div>', field.errors.field_id,
            format_html_join("", f'<{error_tag} id="error_{{}}_{{}}"><strong>{{}}</strong>'
                                 f"</{error_tag}>",
                             ((n, field.auto_id, error)
                              for n, error in enumerate(field.errors, start=1))))
    if field.help_text:
        help_id = format_html('id="{}_helptext" ', field.auto_id) if field.auto_id else ""
        html += format_html('<div {}class="form-text">{}</div>', help_id,
                            mark_safe(field.help_text))
    return html


def _label(field: forms.BoundField, css: str) -> str:
    required = field.field.required
    return format_html(
        '<label{} class="{}{}">{}{}</label>',
        format_html(' for="{}"', field.id_for_label) if field.id_for_label else "", css,
        " requiredField" if required else "", field.label,
        mark_safe('<span class="asteriskField">*</span>') if required else "")


def render_field(field: forms.BoundField, error_tag: str = "p") -> str | None:
    """crispy's bootstrap5/field.html for one bound field, or None to let crispy do it.

    `error_tag`: crispy writes each error in a <p>, or a <span> when the form's helper has
    `error_text_inline` (its default)."""
    if field.is_hidden:
        return _widget(field, None)
    widget = field.field.widget
    if field.use_fieldset or isinstance(widget, forms.FileInput | forms.RadioSelect):
        return None
    invalid = " is-invalid" if field.errors else ""
    wrapper = field.css_classes()
    wrapper = f" {wrapper}" if wrapper else ""
    if isinstance(widget, forms.CheckboxInput):
        return format_html(
            '<div class="mb-3"><div id="div_{}" class="form-check{}">{}{}{}</div></div>',
            field.auto_id, wrapper, _widget(field, "form-check-input" + invalid),
            _label(field, "form-check-label"),
            _errors_and_help(field, error_tag))
    css = "form-select" if isinstance(widget, forms.Select) else "form-control"
    return format_html('<div id="div_{}" class="mb-3{}">{}{}{}</div>', field.auto_id, wrapper,
                       _label(field, "form-label") if field.label else "",
                       _widget(field, css + invalid), _errors_and_help(field, error_tag))


@register.filter
def lean_field(field: forms.BoundField) -> SafeString:
    """`{{ form.name|lean_field }}`: the markup of `as_crispy_field`, written in Python."""
    helper = getattr(field.form, "helper", None)
    html = None
    if helper is None:
        html = render_field(field)
    elif _has_defaults(helper.get_attributes("bootstrap5")):
        html = render_field(field, "span" if helper.error_text_inline else "p")
    return as_crispy_field(field) if html is None else mark_safe(html)


def _submit(button) -> str | None:
    if getattr(button, "template", "").replace("%s", "bootstrap5") != _BASEINPUT:
        return None
    name = slugify(button.name) if len(button.name.split()) > 1 else button.name
    if button.input_type == "hidden":
        return format_html('<input type="hidden" name="{}" value="{}" {}/>', name, button.value,
                           button.flat_attrs)
    return format_html(
        '<input type="{}" name="{}" value="{}" class="{}" id="{}" {}/>', button.input_type, name,
        button.value, button.field_classes,
        button.id or f"{button.input_type}-id-{slugify(button.name)}", button.flat_attrs)


def render_form(form: forms.Form, csrf_token) -> str | None:
    """What `{% crispy form %}` writes for a helper with the default layout, or None."""
    helper = getattr(form, "helper", None)
    layout = getattr(helper, "layout", None)
    if layout is None or not all(isinstance(name, str) and name in form.fields
                                 for name in layout.fields):
        return None
    options = helper.get_attributes("bootstrap5")
    if (not _has_defaults(options) or helper.render_unmentioned_fields
            or helper.render_hidden_fields or helper.render_required_fields
            or getattr(form, "form_html", None)):
        return None
    media = form.media if options["include_media"] else None
    parts = [str(media)] if media and (media._css or media._js) else []
    if form.non_field_errors():
        parts.append(format_html('<div class="alert alert-block alert-danger"><ul class="m-0">'
                                 "{}</ul></div>",
                                 format_html_join("", "<li>{}</li>",
                                                  ((e,) for e in form.non_field_errors()))))
    error_tag = "span" if options["error_text_inline"] else "p"
    for name in layout.fields:
        html = render_field(form[name], error_tag)
        if html is None:
            return None
        parts.append(html)
    buttons = [_submit(button) for button in options.get("inputs", [])]
    if None in buttons:
        return None
    if buttons:
        parts.append(format_html('<div class="mb-3"><div class="">{}</div></div>',
                                 mark_safe("".join(buttons))))
    method = options["form_method"]
    if (method.lower() == "post" and not options["disable_csrf"] and csrf_token
            and csrf_token != "NOTPROVIDED"):
        parts.insert(0, format_html(
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', csrf_token))
    html = "".join(parts)
    if options["form_tag"]:
        html = format_html('<form{} method="{}"{}>{}</form>', options["flat_attrs"], method,
                           mark_safe(' enctype="multipart/form-data"')
                           if form.is_multipart() else "", mark_safe(html))
    return html


_CRISPY = CrispyFormNode("lean_form_form", None)


@register.simple_tag(takes_context=True)
def lean_form(context, form: forms.Form) -> SafeString:
    """`{% lean_form form %}`: the markup of `{% crispy form %}`, written in Python."""
    html = render_form(form, context.get("csrf_token"))
    if html is None:
        with context.push(lean_form_form=form):
            return _CRISPY.render(context)
    return mark_safe(html)
