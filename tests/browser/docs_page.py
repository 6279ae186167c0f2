"""The docs page (GET /api/v1/docs) in a real browser: Debian's headless
Chromium driven by Playwright for Python. Run by tests/tests/docs_page.rs.

Usage: docs_page.py BASE_URL API_KEY SCREENSHOT

Checks, failing with exit status 1 and a list of problems:
- every operation of the served description (operationId and summary) is
  rendered, each with its curl, JavaScript and Python examples exactly as
  the description's x-codeSamples give them;
- the browser console shows no error and the page throws none;
- no request the page makes leaves 127.0.0.1 (every one is recorded);
- the browser got the page gzipped;
then runs the list example exactly as the page shows it (curl, with the
real key and the local base URL substituted for the placeholders) and
expects a 200 with a page of clients. Prints a JSON summary on success.
"""

import json
import shlex
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_BASE_URL = "https://your-app.com/api/v1"
DOCS_KEY = "ba_a1b2c3d4e5f6..."
LABELS = {"Shell": "curl", "JavaScript": "JavaScript (fetch)", "Python": "Python (requests)"}


def operations(description):
    for path, item in description["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                yield method.upper(), path, operation


def normalize(text):
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def main():
    base_url, key, screenshot = sys.argv[1:4]
    docs_url = f"{base_url}/docs"
    with urllib.request.urlopen(f"{base_url}/openapi.json") as response:
        description = json.load(response)

    problems = []
    requests_made = []
    console_errors = []
    shown = {}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        page = context.new_page()
        page.on("request", lambda request: requests_made.append(request.url))
        page.on(
            "console",
            lambda message: console_errors.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: console_errors.append(f"page error: {error}"))
        response = page.goto(docs_url, wait_until="load")
        if response is None or response.status != 200:
            problems.append(f"GET {docs_url}: {response and response.status}")
        encoding = response.headers.get("content-encoding") if response else None
        if encoding != "gzip":
            problems.append(f"the browser got the page with Content-Encoding {encoding!r}, not gzip")
        page.wait_for_selector('[id="operation/listClients"]', timeout=30_000)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=screenshot, full_page=False)

        body_text = page.inner_text("body")
        if "Authorization: Bearer ba_" not in body_text or "bearerAuth" not in body_text:
            problems.append("the Authorization: Bearer scheme is not shown")
        for method, path, operation in operations(description):
            op_id = operation["operationId"]
            section = page.locator(f'[id="operation/{op_id}"]')
            if section.count() != 1:
                problems.append(f"{op_id}: no section rendered")
                continue
            text = section.inner_text()
            if operation["summary"] not in text:
                problems.append(f"{op_id}: summary {operation['summary']!r} not shown")
            for code in operation.get("responses", {}):
                if code not in text:
                    problems.append(f"{op_id}: response {code} not shown")
            samples = operation.get("x-codeSamples", [])
            langs = {sample["lang"] for sample in samples}
            if langs != set(LABELS):
                problems.append(f"{op_id}: x-codeSamples languages {sorted(langs)}")
            for sample in samples:
                tab = section.get_by_role("tab", name=sample["label"], exact=True)
                if tab.count() != 1:
                    problems.append(f"{op_id}: no tab {sample['label']!r}")
                    continue
                tab.click()
                panel = section.locator('[role="tabpanel"][aria-selected="true"], .react-tabs__tab-panel--selected')
                code_text = panel.first.inner_text()
                if normalize(sample["source"]) not in normalize(code_text):
                    problems.append(
                        f"{op_id}: {sample['label']} shows\n{code_text}\nnot\n{sample['source']}"
                    )
                shown[(op_id, sample["lang"])] = code_text
        # The create operation with its JavaScript example selected, for a second look.
        create = page.locator('[id="operation/createClient"]')
        create.get_by_role("tab", name="JavaScript (fetch)", exact=True).click()
        create.scroll_into_view_if_needed()
        page.screenshot(path=screenshot.replace(".png", "-create.png"))
        context.close()

    for url in requests_made:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme in ("data", "blob"):
            continue
        if parsed.hostname != "127.0.0.1":
            problems.append(f"request left 127.0.0.1: {url}")
    if console_errors:
        problems.append(f"console errors: {console_errors}")

    # The list example, exactly as the page shows it.
    curl_status = None
    listed = shown.get(("listClients", "Shell"), "")
    commands = [line.strip() for line in listed.replace("\\\n", " ").splitlines()]
    command = next((line for line in commands if line.startswith("curl ") and "?" not in line), "")
    if not command.startswith("curl "):
        problems.append(f"no list example among {listed!r}")
    else:
        real = command.replace(DOCS_BASE_URL, base_url).replace(DOCS_KEY, key)
        run = subprocess.run(
            ["bash", "-c", real + " -sS -w '\\n%{http_code}'"],
            capture_output=True, text=True, timeout=30,
        )
        body, _, status = run.stdout.rpartition("\n")
        curl_status = status
        if run.returncode != 0 or status != "200":
            problems.append(f"{shlex.quote(real)}: exit {run.returncode}, status {status}, {run.stderr}{body}")
        elif "data" not in json.loads(body):
            problems.append(f"the list example answered {body}")

    summary = {
        "operations": len(list(operations(description))),
        "examples_checked": len(shown),
        "requests": requests_made,
        "list_example_status": curl_status,
        "content_encoding": encoding,
    }
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(json.dumps(summary, indent=1), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
