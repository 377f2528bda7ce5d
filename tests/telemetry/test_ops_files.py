"""The operations files shipped in ``django_prodkit/telemetry/ops``: Kusto queries and workbook.

No Azure here: the queries are checked against the Log Analytics schema of the Application
Insights tables, and the workbook against the queries, the metrics and its own parameters.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

OPS = importlib.resources.files("django_prodkit").joinpath("telemetry", "ops")

# Columns of the workspace tables of Application Insights, from the Azure Monitor Logs reference:
# https://learn.microsoft.com/azure/azure-monitor/reference/tables/apprequests (and
# .../appdependencies, .../appexceptions, .../apptraces, .../apppageviews,
# .../appperformancecounters).
_EVERY_APP_TABLE = {
    "AppRoleInstance", "AppRoleName", "AppVersion", "_BilledSize", "ClientBrowser", "ClientCity",
    "ClientCountryOrRegion", "ClientIP", "ClientModel", "ClientOS", "ClientStateOrProvince",
    "ClientType", "IKey", "_IsBillable", "OperationId", "OperationName", "ParentId", "Properties",
    "ResourceGUID", "_ResourceId", "SDKVersion", "SessionId", "SourceSystem", "_SubscriptionId",
    "SyntheticSource", "TenantId", "TimeGenerated", "Type", "UserAccountId",
    "UserAuthenticatedId", "UserId",
}  # fmt: skip
_SAMPLED = {"ItemCount", "Measurements"}
SCHEMA: dict[str, set[str]] = {
    "AppRequests": _EVERY_APP_TABLE | _SAMPLED | {
        "DurationMs", "Id", "Name", "ReferencedItemId", "ReferencedType", "ResultCode", "Source",
        "Success", "Url",
    },
    "AppDependencies": _EVERY_APP_TABLE | _SAMPLED | {
        "Data", "DependencyType", "DurationMs", "Id", "Name", "ReferencedItemId", "ReferencedType",
        "ResultCode", "Success", "Target",
    },
    "AppExceptions": _EVERY_APP_TABLE | _SAMPLED | {
        "Assembly", "Details", "ExceptionType", "HandledAt", "InnermostAssembly",
        "InnermostMessage", "InnermostMethod", "InnermostType", "Message", "Method",
        "OuterAssembly", "OuterMessage", "OuterMethod", "OuterType", "ProblemId", "SeverityLevel",
    },
    "AppTraces": _EVERY_APP_TABLE | _SAMPLED | {
        "Message", "ReferencedItemId", "ReferencedType", "SeverityLevel",
    },
    "AppPageViews": _EVERY_APP_TABLE | _SAMPLED | {"DurationMs", "Id", "Name", "Url"},
    # Performance counters are aggregates: no ItemCount.
    "AppPerformanceCounters": _EVERY_APP_TABLE | {
        "Category", "Counter", "Instance", "Name", "Value",
    },
}  # fmt: skip
# Tables whose rows are sampled telemetry items: counting them takes sum(ItemCount).
COUNTED_TABLES = {"AppRequests", "AppDependencies", "AppExceptions", "AppTraces", "AppPageViews"}

# The metric tiles, as (namespace, metric) from Azure Monitor's supported metrics lists:
# https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-web-serverfarms-metrics
# .../microsoft-web-sites-metrics, .../microsoft-dbforpostgresql-flexibleservers-metrics
METRICS = {
    ("microsoft.web/serverfarms", "CpuPercentage"),
    ("microsoft.web/serverfarms", "MemoryPercentage"),
    ("microsoft.web/sites", "Requests"),
    ("microsoft.web/sites", "HttpResponseTime"),
    ("microsoft.web/sites", "Http5xx"),
    ("microsoft.dbforpostgresql/flexibleservers", "cpu_percent"),
    ("microsoft.dbforpostgresql/flexibleservers", "memory_percent"),
    ("microsoft.dbforpostgresql/flexibleservers", "active_connections"),
    ("microsoft.dbforpostgresql/flexibleservers", "storage_percent"),
}
WORKBOOK_QUERIES = {"slowest-routes", "failed-routes", "dependency-latency", "exceptions-by-type"}
WORKBOOK_PARAMETERS = {"TimeRange", "AppInsights", "Workspace", "Plan", "Site", "Database"}
# The workbook runs the queries on the resource's workspace, which other resources may share:
# this line, after the table, keeps the rows of the chosen Application Insights resource.
SCOPE = "| where _ResourceId =~ '{AppInsights}'"


@dataclass(frozen=True)
class Query:
    name: str
    title: str
    description: str
    text: str


def parse_queries(text: str) -> list[Query]:
    """The queries of a .kql file, each after a ``// name:`` / ``// title:`` / ... header."""
    preamble, *blocks = re.split(r"^(?=// name: )", text, flags=re.MULTILINE)
    assert all(line.startswith("//") for line in preamble.splitlines() if line.strip())
    queries = []
    for block in blocks:
        lines = block.splitlines()
        header: dict[str, str] = {}
        while lines and (match := re.fullmatch(r"// (\w+): (.+)", lines[0])):
            header[match[1]] = match[2].strip()
            lines.pop(0)
        assert header.keys() == {"name", "title", "description"}, header
        queries.append(Query(**header, text="\n".join(lines).strip()))
    return queries


QUERIES = parse_queries(OPS.joinpath("queries.kql").read_text(encoding="utf-8"))
BY_NAME = {query.name: query for query in QUERIES}
WORKBOOK: dict[str, Any] = json.loads(OPS.joinpath("workbook.json").read_text(encoding="utf-8"))


def code_of(text: str) -> str:
    """The query without comments, with every string literal emptied."""
    return re.sub(
        r"//[^\n]*|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'",
        lambda m: "" if m[0].startswith("//") else '""',
        text,
    )


def tables_read(code: str) -> set[str]:
    """Tables at the head of a pipeline or in a ``union``, less the query's own ``let`` names."""
    heads = re.findall(r"(?:^|;|\blet\s+\w+\s*=|\()\s*(\w+)\s*\|", code)
    unions = re.findall(r"\bunion\s+([\w\s,]+?)\s*\|", code)
    names = set(heads) | {name.strip() for union in unions for name in union.split(",")}
    return names - set(re.findall(r"\blet\s+(\w+)\s*=", code))


def columns_used(code: str) -> set[str]:
    """Schema-style (PascalCase or _Underscored) names the query uses but does not define."""
    names = set(re.findall(r"(?<![\w.])([A-Z_][A-Za-z0-9_]*)\b(?!\s*\()", code))
    defined = set(re.findall(r"(?<![=!<>])\b(\w+)\s*=(?![=~])", code))
    return names - defined - SCHEMA.keys()


def normalised(text: str) -> str:
    return " ".join(text.split())


def walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every item of the workbook, groups opened."""
    found = []
    for item in items:
        found.append(item)
        found.extend(walk(item.get("content", {}).get("items", [])))
    return found


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


ITEMS = walk(WORKBOOK["items"])
PARAMETERS = {p["name"]: p for i in ITEMS if i["type"] == 9 for p in i["content"]["parameters"]}


def test_every_query_has_a_unique_name_title_and_description():
    names = [query.name for query in QUERIES]
    assert len(names) == len(set(names))
    assert {
        "slowest-routes",
        "failed-routes",
        "dependency-latency",
        "exceptions-by-type",
        "requests-per-instance",
        "operation-timeline",
    } <= set(names)
    for query in QUERIES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", query.name)
        assert query.title
        assert query.description
        assert query.text


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
def test_query_reads_known_tables_and_columns(query):
    code = code_of(query.text)
    tables = tables_read(code)
    assert tables, "no table read"
    assert tables <= SCHEMA.keys(), tables - SCHEMA.keys()
    known = set().union(*(SCHEMA[table] for table in tables))
    assert columns_used(code) <= known, columns_used(code) - known


COUNTING = [
    query
    for query in QUERIES
    if "summarize" in query.text and tables_read(code_of(query.text)) & COUNTED_TABLES
]


@pytest.mark.parametrize("query", COUNTING, ids=lambda q: q.name)
def test_counts_add_up_item_count_for_sampling(query):
    code = code_of(query.text)
    assert "sum(ItemCount)" in code
    assert not re.search(r"\bcount(if)?\s*\(", code), "count() ignores sampling"


def test_operation_timeline_takes_an_operation_id():
    code = BY_NAME["operation-timeline"].text
    assert re.search(r'^let operation_id = "[^"]*";$', code, flags=re.MULTILINE)
    assert "where OperationId == operation_id" in code


def test_schema_check_catches_a_wrong_table_or_column():
    assert tables_read(code_of("requests\n| summarize sum(itemCount) by name")) == {"requests"}
    bad_column = code_of("AppRequests\n| summarize N = sum(ItemCount) by Route")
    assert columns_used(bad_column) - SCHEMA["AppRequests"] == {"Route"}


def test_workbook_is_a_gallery_template():
    assert WORKBOOK["version"] == "Notebook/1.0"
    assert {item["type"] for item in ITEMS} == {1, 3, 9, 10}
    assert PARAMETERS.keys() >= WORKBOOK_PARAMETERS


def test_workbook_queries_are_the_named_queries_of_queries_kql():
    query_items = [item for item in ITEMS if item["type"] == 3]
    assert {item["name"] for item in query_items} == WORKBOOK_QUERIES
    for item in query_items:
        content = item["content"]
        assert content["queryType"] == 0
        # AppRequests and the other App tables live in the workspace, not behind the
        # Application Insights resource's own query surface (which has the classic tables).
        assert content["resourceType"] == "microsoft.operationalinsights/workspaces"
        assert content["crossComponentResources"] == ["{Workspace}"]
        assert content["timeContextFromParameter"] == "TimeRange"
        table, rest = BY_NAME[item["name"]].text.split("\n", 1)
        assert normalised(content["query"]) == normalised(f"{table}\n{SCOPE}\n{rest}")


def test_workbook_metrics_are_supported_metrics():
    metric_items = [item["content"] for item in ITEMS if item["type"] == 10]
    used = set()
    for content in metric_items:
        assert content["resourceIds"] == [f"{{{content['resourceParameter']}}}"]
        for metric in content["metrics"]:
            namespace = metric["namespace"]
            assert namespace == content["resourceType"]
            # Workbooks name a metric "<namespace>-<category>-<name>" (category may be empty).
            assert metric["metric"].startswith(f"{namespace}-")
            used.add((namespace, metric["metric"].rsplit("-", 1)[1]))
    assert used == METRICS


def test_workbook_references_only_defined_parameters():
    referenced = {
        match
        for item in ITEMS
        for text in strings(item["content"])
        for match in re.findall(r"\{(\w+)(?::[^}]*)?\}", text)
    }
    referenced |= {
        item["content"][key]
        for item in ITEMS
        for key in ("timeContextFromParameter", "resourceParameter")
        if key in item["content"]
    }
    assert referenced <= PARAMETERS.keys(), referenced - PARAMETERS.keys()
    assert referenced >= WORKBOOK_PARAMETERS


def test_resource_parameters_pick_the_right_resource_types():
    for name, resource_type in [
        ("AppInsights", "microsoft.insights/components"),
        ("Site", "microsoft.web/sites"),
        ("Database", "microsoft.dbforpostgresql/flexibleservers"),
    ]:
        assert f"type =~ '{resource_type}'" in PARAMETERS[name]["query"]
    # The workspace and the plan follow from the resource and the site.
    assert "properties.WorkspaceResourceId" in PARAMETERS["Workspace"]["query"]
    assert "properties.serverFarmId" in PARAMETERS["Plan"]["query"]


@pytest.mark.parametrize("name", ["queries.kql", "workbook.json", "README.md"])
def test_ops_files_ship_in_the_package(name):
    assert OPS.joinpath(name).is_file()
