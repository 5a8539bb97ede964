"""The Spark implementation of the feature spec (see :mod:`demandcast.features.feature_spec`).

Pure ``DataFrame -> DataFrame`` transforms; the session and the paths live in
:mod:`stages.features`. The online implementation in :mod:`demandcast.features.online`
computes the same columns from recent history without Spark; a parity test holds them
to each other.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from demandcast.features.feature_spec import HOLIDAY_TYPES, KEYS, PRIOR_KEYS, Spec

SCHEMAS = {
    "train.csv": "id LONG, date DATE, store_nbr INT, item_nbr INT, unit_sales DOUBLE, onpromotion BOOLEAN",
    "stores.csv": "store_nbr INT, city STRING, state STRING, type STRING, cluster INT",
    "items.csv": "item_nbr INT, family STRING, class INT, perishable INT",
    "holidays_events.csv": "date DATE, type STRING, locale STRING, locale_name STRING, "
                           "description STRING, transferred BOOLEAN",
    "transactions.csv": "date DATE, store_nbr INT, transactions LONG",
    "test.csv": "id LONG, date DATE, store_nbr INT, item_nbr INT, onpromotion BOOLEAN",
}
OPTIONAL = ("test.csv",)  # the promotion plan (demandcast.data.promotions)


def exists(spark, path: str) -> bool:
    """Whether ``path`` is a file, on any filesystem Hadoop knows (local, hdfs://, s3a://)."""
    jvm = spark._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return bool(hpath.getFileSystem(spark._jsc.hadoopConfiguration()).isFile(hpath))


def raw_path(spark, data_dir: str, name: str) -> str | None:
    """``data_dir/name``, else its gzip-compressed ``name.gz`` (Spark reads it as it is)."""
    for candidate in (f"{data_dir}/{name}", f"{data_dir}/{name}.gz"):
        if exists(spark, candidate):
            return candidate
    return None


def read_raw(spark, data_dir: str) -> dict[str, DataFrame]:
    """The raw files, typed by explicit schemas (validated upstream, so FAILFAST); an optional
    file that is absent is left out."""
    out = {}
    for name, schema in SCHEMAS.items():
        path = raw_path(spark, data_dir, name)
        if path is None and name in OPTIONAL:
            continue
        out[name] = spark.read.csv(path or f"{data_dir}/{name}", header=True, schema=schema,
                                   mode="FAILFAST")
    return out


def day_number(col) -> F.Column:
    return F.datediff(col, F.lit("1970-01-01"))


def panel(train: DataFrame, plan: DataFrame | None = None) -> DataFrame:
    """One row per series and day between its first and last sale; gaps are zero days.

    ``onpromotion`` is promoted in ``train.csv`` or in the promotion ``plan`` (which also
    lists promoted days without sales, which ``train.csv`` cannot).
    """
    # One scan and one shuffle: each sale row expands to itself and the zero days up to
    # the series' next sale (found by lead over the series' own sort), instead of a
    # calendar of days joined back to the sales, which read train.csv twice and sorted both
    # sides. A duplicated key expands to one row per copy, as the join did.
    series = Window.partitionBy("store_nbr", "item_nbr").orderBy("date")
    until = F.greatest(F.date_sub(F.lead("date").over(series), 1), F.col("date"))  # skips a null lead
    sales = train.select(*KEYS, "unit_sales", "onpromotion", until.alias("_until"))
    expanded = sales.select(*[k for k in KEYS if k != "date"], "unit_sales", "onpromotion",
                            F.posexplode(F.sequence("date", "_until")).alias("_pos", "date"))
    sold = F.col("_pos") == 0
    promoted = F.coalesce(F.col("onpromotion").cast("long"), F.lit(0))
    out = expanded.select(
        *KEYS, F.when(sold, F.coalesce("unit_sales", F.lit(0.0))).otherwise(0.0).alias("unit_sales"),
        F.when(sold, promoted).otherwise(0).alias("onpromotion"))
    if plan is None:
        return out
    planned = (plan.where(F.col("onpromotion")).select(*KEYS).distinct()
               .withColumn("_planned", F.lit(1).cast("long")))
    return (out.join(planned, list(KEYS), "left")
            .withColumn("onpromotion", F.greatest("onpromotion", F.coalesce("_planned", F.lit(0))))
            .drop("_planned"))


def calendar(df: DataFrame) -> DataFrame:
    dow = (F.dayofweek("date") + 5) % 7  # Spark counts from Sunday=1; the spec from Monday=0
    return (df.withColumn("year", F.year("date")).withColumn("month", F.month("date"))
            .withColumn("day", F.dayofmonth("date")).withColumn("dayofweek", dow)
            .withColumn("weekofyear", F.weekofyear("date"))
            .withColumn("is_weekend", (dow >= 5).cast("long")))


def _distance(dates: DataFrame, flag: str, by: list[str], cap: int, name: str) -> DataFrame:
    """days_to_/days_since_ the nearest day with ``flag`` set, capped."""
    ordered = Window.partitionBy(*by).orderBy("date")
    marked = F.when(F.col(flag) == 1, F.col("date"))
    last = F.last(marked, ignorenulls=True).over(ordered.rowsBetween(Window.unboundedPreceding, 0))
    nxt = F.first(marked, ignorenulls=True).over(ordered.rowsBetween(0, Window.unboundedFollowing))
    capped = lambda days: F.least(F.coalesce(days, F.lit(cap)), F.lit(cap))  # noqa: E731
    return (dates.withColumn(f"days_to_{name}", capped(F.datediff(nxt, "date")))
            .withColumn(f"days_since_{name}", capped(F.datediff("date", last))))


def holiday_features(holidays: DataFrame, stores: DataFrame, first, last, spec: Spec) -> DataFrame:
    """Per (store_nbr, date) over [first, last] and the whole holiday table's range."""
    lo = holidays.agg(F.least(F.min("date"), F.lit(first).cast("date")).alias("lo"),
                      F.greatest(F.max("date"), F.lit(last).cast("date")).alias("hi"))
    dates = lo.select(F.explode(F.sequence("lo", "hi")).alias("date"))
    grid = stores.select("store_nbr", "city", "state").crossJoin(dates)

    celebrated = holidays.where(~F.col("transferred")).withColumn(
        "kind", F.regexp_replace(F.lower(F.regexp_replace("type", "Transfer", "Holiday")), " ", "_"))
    applies = ((F.col("h.locale") == "National")
               | ((F.col("h.locale") == "Regional") & (F.col("h.locale_name") == F.col("g.state")))
               | ((F.col("h.locale") == "Local") & (F.col("h.locale_name") == F.col("g.city"))))
    hits = (grid.alias("g").join(celebrated.alias("h"), F.col("g.date") == F.col("h.date"))
            .where(applies).select("g.store_nbr", "g.date", "h.kind"))
    flags = hits.groupBy("store_nbr", "date").agg(
        *[F.max((F.col("kind") == t).cast("long")).alias(f"hol_{t}") for t in HOLIDAY_TYPES])
    out = grid.select("store_nbr", "date").join(flags, ["store_nbr", "date"], "left").fillna(
        0, [f"hol_{t}" for t in HOLIDAY_TYPES])
    out = _distance(out, "hol_holiday", ["store_nbr"], spec.cap_days, "holiday")
    out = (out.withColumn("hol_before", F.col("days_to_holiday").between(1, spec.before_days).cast("long"))
           .withColumn("hol_after", F.col("days_since_holiday").between(1, spec.after_days).cast("long")))

    national = holidays.where((F.col("locale") == "National") & (F.col("type") != "Transfer"))
    for name, description in spec.named.items():
        days = (national.where(F.col("description") == description)
                .select("date", F.lit(1).alias(f"is_{name}")).distinct())
        out = out.join(F.broadcast(days), "date", "left").fillna(0, [f"is_{name}"])
        out = _distance(out, f"is_{name}", ["store_nbr"], spec.cap_days, name)
    return out


def rolling(df: DataFrame, spec: Spec) -> DataFrame:
    """Lags, rolling stats and promotion shares over each series' past days only.

    Spark re-aggregates a sliding frame for every row (O(rows x window)); running sums are
    incremental, so each window statistic is a difference of two running sums instead:
    sum over days d-w..d-1 = C(d) - C(d-w), with C(d) the sum over the days before d.
    Sales counts are whole numbers, which doubles add exactly; the variance uses the
    window's sum of squares the same way.
    """
    series = Window.partitionBy("store_nbr", "item_nbr").orderBy("date")
    before = series.rowsBetween(Window.unboundedPreceding, -1)
    y, promo = F.col(spec.target), F.col("onpromotion").cast("double")
    running = {"_n": F.row_number().over(series) - 1,
               "_s": F.coalesce(F.sum(y).over(before), F.lit(0.0)),
               "_q": F.coalesce(F.sum(y * y).over(before), F.lit(0.0)),
               "_p": F.coalesce(F.sum(promo).over(before), F.lit(0.0))}
    df = df.withColumns(running)
    # Each running sum lagged once per window length, as a column: Spark does not share
    # equal window expressions, and the mean and std would each lag the same sums again.
    sums = [*[(c, w) for w in spec.windows for c in ("_s", "_q")], *[("_p", w) for w in spec.promo_windows]]
    spans = spec.yearly_spans() if spec.yearly else ()
    sums += [("_s", m) for a, b in spans for m in (a, b - 1) if m > 0]
    lagged = {f"{col}_{w}": F.lag(col, w).over(series) for col, w in dict.fromkeys(sums)}
    df = df.withColumns(lagged)
    cols = {f"lag_{k}": F.lag(y, k).over(series) for k in spec.lags}

    def before(col: str, m: int) -> F.Column:
        """The running sum ``col`` m days back: C(d - m), 0 before the series' first day."""
        return F.col(col) if m == 0 else F.coalesce(F.col(f"{col}_{m}"), F.lit(0.0))

    def window_sum(col: str, w: int) -> F.Column:
        return F.col(col) - before(col, w)

    for w in spec.windows:
        n = F.least(F.col("_n"), F.lit(w))
        total, squares = window_sum("_s", w), window_sum("_q", w)
        mean = total / n
        var = F.greatest((squares - total * total / n) / (n - 1), F.lit(0.0))
        cols[f"roll_mean_{w}"] = F.when(n >= spec.min_periods["mean"], mean)
        cols[f"roll_std_{w}"] = F.when(n >= spec.min_periods["std"], F.sqrt(var))
    for w in spec.promo_windows:
        n = F.least(F.col("_n"), F.lit(w))
        cols[f"promo_share_{w}"] = F.when(n >= 1, window_sum("_p", w) / n)
    if spec.yearly:
        # Days d-a..d-b: C(d-b+1) - C(d-a) summed, min(_n, a) - min(_n, b-1) of them in the panel.
        means = []
        for a, b in spans:
            n = F.least(F.col("_n"), F.lit(a)) - F.least(F.col("_n"), F.lit(b - 1))
            means.append(F.when(n >= 1, (before("_s", b - 1) - before("_s", a)) / n))
        week, base = means
        cols[f"yearly_mean_{spec.yearly[1]}"], cols[f"yearly_base_{spec.yearly[2]}"] = week, base
        cols["yearly_ratio"] = F.when(base > 0, week / base)
    return df.withColumns(cols).drop(*running, *lagged)


def window_statistics(spec: Spec) -> list[str]:
    """The columns that are means, spreads, shares or ratios over a window: nearly every value
    distinct, unlike the keys, flags, calendar and lags (a few small whole numbers)."""
    prefixes = ("roll_", "promo_share_", "yearly_")
    return [name for name in spec.names() if name.startswith(prefixes) or name == "tx_mean"]


def parquet_writer(df: DataFrame, spec: Spec):
    """``df.write`` with parquet-mr's dictionary encoding off for the window statistics only.

    A dictionary of nearly distinct doubles is built, found too big and thrown away for
    every page: on the medium preset the write after the windows took 11 s with dictionaries
    everywhere and 9.4 s without them for these columns (README Performance). Keys, flags
    and lags keep theirs: turning dictionaries off everywhere made the features stage peak
    at 9.3 GB instead of 5.2. The bytes DVC hashes do not change: the settled files are
    rewritten by pyarrow (:func:`demandcast.features.etl.settle`)."""
    writer = df.write
    for name in window_statistics(spec):
        writer = writer.option(f"parquet.enable.dictionary#{name}", "false")
    return writer


def transactions_feature(transactions: DataFrame, stores: DataFrame, first, last, spec: Spec) -> DataFrame:
    """``tx_mean`` per (store_nbr, date): the store's traffic over an old-enough window."""
    dates = transactions.sparkSession.range(1).select(
        F.explode(F.sequence(F.lit(first).cast("date"), F.lit(last).cast("date"))).alias("date"))
    grid = stores.select("store_nbr").crossJoin(dates).join(
        transactions.select("store_nbr", "date", "transactions"), ["store_nbr", "date"], "left")
    window = (Window.partitionBy("store_nbr").orderBy(day_number(F.col("date")))
              .rangeBetween(-(spec.tx_lag + spec.tx_window - 1), -spec.tx_lag))
    return grid.select("store_nbr", "date",
                       F.avg(F.col("transactions").cast("double")).over(window).alias("tx_mean"))


def priors(df: DataFrame, train_end, spec: Spec) -> dict[str, DataFrame]:
    """Mean daily sales per level on the training window only (never the test window).

    Summed as decimals: sales have at most 3 decimals (sold by weight), so the sums are exact
    and do not depend on the order Spark merges partial sums in; doubles would differ in the
    last bits from run to run, and so would the feature table's bytes.
    """
    window = df.where(F.col("date") <= F.lit(train_end).cast("date"))
    exact = F.col(spec.target).cast("decimal(38,6)")
    return {level: window.groupBy(*PRIOR_KEYS[level])
            .agg(F.avg(exact).cast("double").alias(f"prior_{level}"))
            for level in spec.priors}


def priors_from_table(table: DataFrame, items: DataFrame, spec: Spec) -> dict[str, DataFrame]:
    """The priors tables read back from a written feature table.

    A prior is constant per key, so (key, prior) pairs are the table; keys first seen after
    the training window have none. Reading a few parquet columns back is far cheaper than
    computing each level's aggregate again from the raw files (one full pass per level).
    """
    wanted = ["store_nbr", "item_nbr", "cluster", *[f"prior_{level}" for level in spec.priors]]
    rows = table.select(*wanted).join(F.broadcast(items.select("item_nbr", "family")), "item_nbr")
    return {level: rows.where(F.col(f"prior_{level}").isNotNull())
            .select(*PRIOR_KEYS[level], f"prior_{level}").distinct()
            for level in spec.priors}


def encodings(stores: DataFrame, items: DataFrame, families: list[str]) -> tuple[DataFrame, DataFrame]:
    """Static per-store and per-item columns, with categorical codes."""
    codes = items.sparkSession.createDataFrame(
        [(f, i) for i, f in enumerate(families)], "family STRING, family_code LONG")
    item_cols = items.select("item_nbr", "family").join(F.broadcast(codes), "family")
    store_cols = stores.select("store_nbr", "cluster",
                               (F.ascii("type") - F.ascii(F.lit("A"))).cast("long").alias("store_type_code"))
    return store_cols, item_cols


def build(raw: dict[str, DataFrame], spec: Spec, train_end, first, last) -> tuple[DataFrame, dict]:
    """The feature table (keys, target, features in spec order) and the priors tables."""
    families = sorted(r["family"] for r in raw["items.csv"].select("family").distinct().collect())
    store_cols, item_cols = encodings(raw["stores.csv"], raw["items.csv"], families)
    df = (panel(raw["train.csv"], raw.get("test.csv")).join(F.broadcast(store_cols), "store_nbr")
          .join(F.broadcast(item_cols), "item_nbr"))
    level_priors = priors(df, train_end, spec)
    df = rolling(calendar(df), spec)
    df = df.join(holiday_features(raw["holidays_events.csv"], raw["stores.csv"], first, last, spec),
                 ["store_nbr", "date"], "left")
    df = df.join(transactions_feature(raw["transactions.csv"], raw["stores.csv"], first, last, spec),
                 ["store_nbr", "date"], "left")
    for level, table in level_priors.items():
        df = df.join(F.broadcast(table), list(PRIOR_KEYS[level]), "left")
    types = {"int": T.LongType(), "float": T.DoubleType()}
    out = df.select(*KEYS, F.col(spec.target).cast("double"),
                    *[F.col(name).cast(types[kind]).alias(name) for name, kind in spec.columns()
                      if name not in KEYS])
    return out, level_priors
