"""The workbook's sheets and their English headers, in order, as the code marks them: tests
read a sheet by position (sheet names and headers are in the reader's language)."""

from __future__ import annotations

SHEETS = ["Summary", "Departments", "Signals", "Events", "Scores", "Customers"]
HEADERS = {
    "Summary": ["Week", "Starts", "Customer NPS", "Answers", "Margin ±", "Complaints", "Praise",
                "Ideas"],
    "Departments": ["Department", "Slug", "Signals", "Complaints", "Praise", "Ideas",
                    "Acknowledged within SLA", "Median business hours to acknowledge", "Resolved",
                    "Open", "Overdue"],
    "Signals": ["Ref", "Created", "Kind", "Status", "Department", "Text", "Customer",
                "Customer score", "Reported by", "Acknowledge by", "Acknowledged", "Resolved",
                "Attachments", "Resolution code"],
    "Events": ["Ref", "At", "Action", "By", "Details"],
    "Scores": ["At", "Kind", "Source", "Score", "Customer", "Segment", "Comment",
               "Rating department", "Rated department", "Pulse round", "Signal", "Answers",
               "Internal NPS", "Margin ±"],
    "Customers": ["Customer", "Account", "Owner", "Segment", "Signals", "Customer NPS",
                  "Answers", "Open", "Overdue", "At risk"],
}
