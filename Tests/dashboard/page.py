"""Reads what a dashboard page shows, as lines the check can compare.

    python3 page.py show DOM_FILE   what the browser's DOM holds, one line per thing:
                                    title: T / h1: T / refresh: N / row: a|b||d /
                                    field: NAME = VALUE / pre: TEXT / link: TEXT -> HREF /
                                    element: TAG  (for script, img, iframe, object, embed, link)
    python3 page.py fetch URL       the HTTP status and headers: status: N / header: name: value

Text is as a reader sees it: references decoded, white space collapsed.
"""
import sys
import urllib.error
import urllib.request
from html.parser import HTMLParser

WATCHED = {"script", "img", "iframe", "object", "embed", "link"}


class Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lines = []
        self.stack = []        # (tag, text collected so far)
        self.cells = None
        self.field = None
        self.href = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in WATCHED:
            self.lines.append(f"element: {tag}")
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            self.lines.append(f"refresh: {attrs.get('content')}")
        if tag == "tr":
            self.cells = []
        if tag == "a":
            self.href = attrs.get("href")
        self.stack.append([tag, ""])

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, text = self.stack.pop()
            text = " ".join(text.split()) if open_tag != "pre" else text
            if self.stack:
                self.stack[-1][1] += text if open_tag != "pre" else ""
            if open_tag in ("title", "h1"):
                self.lines.append(f"{open_tag}: {text}")
            elif open_tag in ("td", "th") and self.cells is not None:
                self.cells.append(text)
            elif open_tag == "tr" and self.cells is not None:
                self.lines.append("row: " + "|".join(self.cells))
                self.cells = None
            elif open_tag == "dt":
                self.field = text
            elif open_tag == "dd":
                self.lines.append(f"field: {self.field} = {text}")
            elif open_tag == "pre":
                self.lines.append("pre: " + text.replace("\n", "\\n"))
            elif open_tag == "a":
                self.lines.append(f"link: {text} -> {self.href}")
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][1] += data


def show(path):
    reader = Reader()
    with open(path, encoding="utf-8") as f:
        reader.feed(f.read())
    reader.close()
    print("\n".join(reader.lines))


def fetch(url):
    try:
        response = urllib.request.urlopen(url, timeout=30)
    except urllib.error.HTTPError as error:
        response = error
    print(f"status: {response.status}")
    for name, value in response.headers.items():
        print(f"header: {name.lower()}: {value}")


if __name__ == "__main__":
    {"show": show, "fetch": fetch}[sys.argv[1]](sys.argv[2])
