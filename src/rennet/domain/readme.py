"""A project's long description as PyPI shows it: Markdown (GitHub's flavour unless the content type names
another variant), reStructuredText (also when no content type is given) or plain text, rendered and sanitized
by readme-renderer (nh3 removes scripts, event handlers and unsafe URLs). reStructuredText that does not render
is shown as plain text, as PyPI does."""

from __future__ import annotations

from email.message import Message

__all__ = ["MAX_DESCRIPTION", "render_description"]

MAX_DESCRIPTION = 1 << 20  # larger descriptions are cut: rendering is CPU time a request waits for


def render_description(text: str | None, content_type: str | None) -> str | None:
    """Safe HTML for the description; None when there is none."""
    if not text or not text.strip():
        return None
    # Imported on first use: docutils, Pygments and the Markdown renderer cost a server's workers memory.
    from readme_renderer import markdown, rst, txt

    text = text[:MAX_DESCRIPTION]
    kind, parameters = _content_type(content_type or "")
    rendered: str | None
    if kind == "text/markdown":
        rendered = markdown.render(text, variant=parameters.get("variant", "GFM"))
    elif kind == "text/plain":
        rendered = txt.render(text)
    else:
        rendered = rst.render(text)
    return rendered if rendered is not None else txt.render(text)


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    if not value:
        return "", {}
    message = Message()
    message["content-type"] = value
    parameters = {key.lower(): str(val) for key, val in (message.get_params() or [])[1:]}
    return message.get_content_type(), parameters
