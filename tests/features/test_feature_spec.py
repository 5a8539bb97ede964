from __future__ import annotations

import numpy as np

from demandcast.features.feature_spec import series_key, series_parts


def test_series_keys_sort_by_store_then_item_and_unpack_exactly():
    store = np.array([2, 1, 1, 54, 3])
    item = np.array([1, 2_134_244, 96_995, 0, 2**32 - 1])
    keys = series_key(store, item)
    assert keys.dtype == np.int64
    order = np.argsort(keys)
    assert list(zip(store[order], item[order], strict=True)) == sorted(zip(store, item, strict=True))
    back_store, back_item = series_parts(keys)
    np.testing.assert_array_equal(back_store, store)
    np.testing.assert_array_equal(back_item, item)


def test_one_series_makes_one_scalar_key():
    assert int(series_key(3, 7)) == 3 * 2**32 + 7
