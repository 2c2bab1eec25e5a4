"""plugins/filter/out_of_range.py: the roles' range check of their numeric options."""
from ansible_collections.replicant.mysql.plugins.filter.out_of_range import FilterModule, out_of_range


def test_whole_numbers_within_range_pass_and_the_others_are_named():
    assert out_of_range({'a': [1, 1, 10], 'b': ['10', 1, 10], 'c': [0, 0, 5]}) == []
    assert out_of_range({'t': [0, 1, 86400]}) == ['t must be a whole number from 1 to 86400, not 0']
    assert out_of_range({'t': ['-3', 0, 5], 'u': [True, 0, 5], 'v': [1.5, 0, 5], 'w': ['soon', 0, 5], 'x': [None, 0, 5]}) == [
        't must be a whole number from 0 to 5, not -3', 'u must be a whole number from 0 to 5, not True',
        'v must be a whole number from 0 to 5, not 1.5', 'w must be a whole number from 0 to 5, not soon',
        'x must be a whole number from 0 to 5, not None']
    assert FilterModule().filters()['out_of_range'] is out_of_range
