"""Table parsing in evidence_text: a table whose last row runs on into the next part of a message.

Chat text (and the chatty team, which joins the parts of a message with a space half the time) often goes on
after a table's last row on the same line: "27,1 I think the answer is 5". The row must still give its last
cell to the table's columns, and the text after it must not join the table.
"""

from __future__ import annotations

from silo.evidence_text import parse, table_spans

VALUES = (5, 7, 27)


def _csv(tail: str) -> str:
    return "#,value\n" + "\n".join(f"{k},{v}" for k, v in enumerate(VALUES)) + tail


def test_csv_last_row_running_into_a_sentence_keeps_its_value():
    for tail in (" I think the answer is 42.", " Thanks, agent 3!", " 5, 3 and 7", " [3, 5, 7]", " value\n9\n8",
                 " Here is my data:\n#,value\n0,3\n1,4"):
        assert VALUES in parse(_csv(tail)).columns, tail


def test_csv_running_into_another_table_keeps_both_apart():
    csv_next = _csv(" key,value\napple,3\nkiwi,4\npear,6")
    assert VALUES in parse(csv_next).columns
    assert (3, 4, 6) in parse(csv_next).columns
    assert not any(len(c) > 3 for c in parse(csv_next).columns)  # the two tables' columns are not merged
    md_next = _csv(" | # | value |\n|---|---|\n| 0 | 3 |\n| 1 | 4 |\n| 2 | 6 |")
    assert VALUES in parse(md_next).columns and (3, 4, 6) in parse(md_next).columns


def test_markdown_last_row_running_into_a_sentence_keeps_its_value():
    md = "| # | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in enumerate(VALUES))
    assert VALUES in parse(md + " I think the answer is 42.").columns


def test_a_number_with_a_unit_inside_a_table_does_not_end_it():
    # "5 units" cells: the table goes on (its index column stays one column), only the last row may end early
    text = "#,item,count\n0,apple,5 units\n1,kiwi,3 units\n2,pear,4 units\n3,fig,2 units\n\nThat's all."
    assert (0, 1, 2, 3) in parse(text).columns
    md = "| # | count |\n|---|---|\n| 0 | 5 apples |\n| 1 | 3 apples and 2 pears |\n| 2 | 4 apples |"
    assert (0, 1, 2) in parse(md).columns


def test_table_span_ends_at_the_run_on_rows_number():
    text = _csv(" I think the answer is 42.")
    spans = table_spans(text)
    assert len(spans) == 1
    lo, hi = spans[0]
    assert text[lo:hi].endswith("2,27") and "think" not in text[lo:hi]
    whole = _csv("\nI think the answer is 42.")  # the same table on its own lines: the same span
    assert [whole[a:b] for a, b in table_spans(whole)] == [text[lo:hi]]
