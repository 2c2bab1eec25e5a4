"""plugins/modules/mysql_query.py, run in-process against a FakeServer."""
from ansible_collections.replicant.mysql.plugins.modules import mysql_query

from module_harness import FakeServer, run_module


def test_a_string_is_one_statement_even_with_commas():
    server = FakeServer(rows={'SELECT a, b': [{'a': 1, 'b': 2}]})
    result = run_module(mysql_query, dict(query='SELECT a, b FROM t'), server=server)
    assert server.ran() == ['SELECT a, b FROM t']
    assert result['query_result'] == [[{'a': 1, 'b': 2}]]
    assert result['changed'] is False and result['rowcount'] == [1]


def test_statements_run_in_order_with_rowcount_and_community_return_keys():
    server = FakeServer(rows={'SELECT': [{'n': 1}, {'n': 2}, {'n': 3}]}, values={'ROW_COUNT': 2})
    result = run_module(mysql_query, dict(query=['INSERT INTO t VALUES (1), (2)', 'SELECT n FROM t']), server=server)
    assert server.ran() == ['INSERT INTO t VALUES (1), (2)', 'SELECT ROW_COUNT()', 'SELECT n FROM t']
    assert result['changed'] is True
    assert result['rowcount'] == [2, 3]
    assert result['executed'] == result['executed_queries'] == ['INSERT INTO t VALUES (1), (2)', 'SELECT n FROM t']
    assert result['query_result'] == [[], [{'n': 1}, {'n': 2}, {'n': 3}]]


def test_login_db_is_database_and_is_quoted():
    server = FakeServer()
    run_module(mysql_query, dict(query='SELECT 1', login_db='sh`op'), server=server)
    assert server.ran()[0] == 'USE `sh``op`'


def test_check_mode_runs_only_statements_that_read():
    server = FakeServer(rows={'SHOW': [{'Variable_name': 'x'}]})
    result = run_module(mysql_query, dict(query=['DELETE FROM t', 'SHOW VARIABLES LIKE "x"']), check_mode=True,
                        server=server)
    assert server.ran() == ['SHOW VARIABLES LIKE "x"']
    assert result['changed'] is True
    assert result['executed'] == ['SHOW VARIABLES LIKE "x"'] and result['rowcount'] == [0, 1]
    assert result['query_result'] == [[], [{'Variable_name': 'x'}]]


def test_arguments_go_only_to_statements_with_placeholders():
    server = FakeServer(values={'ROW_COUNT': 1})
    run_module(mysql_query, dict(query=['INSERT INTO t VALUES (%s)', 'SELECT 100'], positional_args=["it's"]),
               server=server)
    assert server.statements[0] == ('INSERT INTO t VALUES (%s)', ["it's"])
    assert server.statements[2] == ('SELECT 100', None)


def test_named_and_positional_arguments_exclude_each_other():
    result = run_module(mysql_query, dict(query='SELECT 1', positional_args=[1], named_args={'a': 1}),
                        server=FakeServer())
    assert result['failed'] and 'mutually exclusive' in result['msg']


def test_a_query_that_is_neither_string_nor_list_of_strings_fails():
    result = run_module(mysql_query, dict(query={'select': 1}), server=FakeServer())
    assert result['failed'] and 'query must be' in result['msg']


def test_values_are_made_json_safe():
    import decimal
    server = FakeServer(rows={'SELECT': [{'d': decimal.Decimal('2.50'), 'i': decimal.Decimal('3'), 'b': b'\xff'}]})
    result = run_module(mysql_query, dict(query='SELECT d, i, b FROM t'), server=server)
    assert result['query_result'] == [[{'d': 2.5, 'i': 3, 'b': '\ufffd'}]]


def test_password_literals_are_masked_in_executed():
    server = FakeServer(values={'ROW_COUNT': 0})
    result = run_module(mysql_query, dict(query="CREATE USER 'u'@'%' IDENTIFIED BY 's3cret-pw'"), server=server)
    assert 's3cret-pw' not in str(result['executed']) and 's3cret-pw' not in str(result['executed_queries'])


def test_a_changing_statement_with_a_result_counts_its_rows():
    server = FakeServer(rows={'SELECT': [{'id': 1}, {'id': 2}]}, values={'ROW_COUNT': -1})
    result = run_module(mysql_query, dict(query='SELECT id FROM t FOR UPDATE'), server=server)
    assert result['changed'] is True and result['rowcount'] == [2]
    assert 'SELECT ROW_COUNT()' not in server.ran()
