SELECT
  "t1"."customer_no",
  DATE_DIFF(
    'DAY',
    MIN("t1"."birth_date") FILTER(WHERE
      (
        "t1"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t1"."dt" >= MAKE_DATE(2026, 3, 31)
      )),
    MAKE_DATE(2026, 3, 31)
  ) AS "age_days",
  DATE_DIFF(
    'DAY',
    MIN("t1"."open_date") FILTER(WHERE
      (
        "t1"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t1"."dt" >= MAKE_DATE(2026, 3, 31)
      )),
    MAKE_DATE(2026, 3, 31)
  ) AS "account_age_days",
  DATE_DIFF(
    'DAY',
    MAX("t1"."risk_assessed_at") FILTER(WHERE
      (
        "t1"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t1"."dt" >= MAKE_DATE(2026, 3, 31)
      )),
    MAKE_DATE(2026, 3, 31)
  ) AS "risk_test_age_days"
FROM (
  SELECT
    *
  FROM "memtable_0" AS "t0"
  WHERE
    "t0"."dt" <= MAKE_DATE(2026, 3, 31)
    AND "t0"."dt" >= MAKE_DATE(2026, 3, 31)
    AND "t0"."customer_no" IS NOT NULL
) AS "t1"
GROUP BY
  1

;

WITH "t1" AS (
  SELECT
    *
  FROM "memtable_0" AS "t0"
  WHERE
    "t0"."dt" <= MAKE_DATE(2026, 3, 31)
    AND "t0"."dt" >= MAKE_DATE(2026, 3, 24)
    AND "t0"."customer_no" IS NOT NULL
)
SELECT
  "t7"."customer_no",
  COALESCE(SUM("t7"."total_assets"), 0) AS "total_assets",
  COALESCE(SUM("t7"."cash"), 0) AS "cash_balance",
  COALESCE(SUM("t7"."stock_value"), 0) AS "stock_value",
  COALESCE(SUM("t7"."fund_value"), 0) AS "fund_value",
  COALESCE(SUM("t7"."bond_value"), 0) AS "bond_value",
  COALESCE(SUM("t7"."margin_debt"), 0) AS "margin_debt"
FROM (
  SELECT
    "t6".*
    EXCLUDE ("latest_dt")
  FROM (
    SELECT
      "t3"."customer_no",
      "t3"."date",
      "t3"."total_assets",
      "t3"."cash",
      "t3"."stock_value",
      "t3"."fund_value",
      "t3"."bond_value",
      "t3"."margin_debt",
      "t3"."attributes",
      "t3"."dt",
      "t5"."latest_dt"
    FROM "t1" AS "t3"
    INNER JOIN (
      SELECT
        "t2"."customer_no",
        MAX("t2"."dt") AS "latest_dt"
      FROM "t1" AS "t2"
      GROUP BY
        1
    ) AS "t5"
      ON "t3"."customer_no" = "t5"."customer_no" AND "t3"."dt" = "t5"."latest_dt"
  ) AS "t6"
) AS "t7"
GROUP BY
  1

;

SELECT
  "t7"."customer_no",
  AVG("t7"."total_assets") FILTER(WHERE
    "t7"."_td0" IS NOT NULL) AS "avg_assets_20td",
  AVG("t7"."total_assets") FILTER(WHERE
    (
      "t7"."dt" <= MAKE_DATE(2026, 3, 31)
    )
    AND (
      "t7"."dt" >= MAKE_DATE(2026, 3, 1)
    )) AS "avg_assets_mtd",
  AVG("t7"."total_assets") FILTER(WHERE
    (
      "t7"."dt" <= MAKE_DATE(2026, 3, 31)
    )
    AND (
      "t7"."dt" >= MAKE_DATE(2026, 1, 1)
    )) AS "avg_assets_90d",
  MAX("t7"."total_assets") FILTER(WHERE
    (
      "t7"."dt" <= MAKE_DATE(2026, 3, 31)
    )
    AND (
      "t7"."dt" >= MAKE_DATE(2026, 1, 1)
    )) AS "max_assets_90d",
  FIRST("t7"."total_assets" ORDER BY "t7"."date") FILTER(WHERE
    (
      "t7"."dt" <= MAKE_DATE(2026, 3, 31)
    )
    AND (
      "t7"."dt" >= MAKE_DATE(2026, 3, 2)
    )) AS "assets_30d_ago"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t5".*
      EXCLUDE ("_td0_dt")
    FROM (
      SELECT
        "t4"."customer_no",
        "t4"."date",
        "t4"."total_assets",
        "t4"."cash",
        "t4"."stock_value",
        "t4"."fund_value",
        "t4"."bond_value",
        "t4"."margin_debt",
        "t4"."attributes",
        "t4"."dt",
        "t2"."_td0_dt",
        "t2"."_td0"
      FROM (
        SELECT
          *
        FROM "memtable_0" AS "t0"
        WHERE
          "t0"."dt" <= MAKE_DATE(2026, 3, 31) AND "t0"."dt" >= MAKE_DATE(2026, 1, 1)
      ) AS "t4"
      LEFT OUTER JOIN "memtable_1" AS "t2"
        ON "t4"."dt" = "t2"."_td0_dt"
    ) AS "t5"
  ) AS "t6"
  WHERE
    "t6"."customer_no" IS NOT NULL
) AS "t7"
GROUP BY
  1

;

SELECT
  "t1"."customer_no",
  SUM("t1"."amount") FILTER(WHERE
    (
      "t1"."dt" <= MAKE_DATE(2026, 3, 31)
    )
    AND (
      "t1"."dt" >= MAKE_DATE(2026, 3, 2)
    )
    AND (
      "t1"."direction" = 'in'
    )) AS "inflow_amount_30d",
  SUM("t1"."amount") FILTER(WHERE
    (
      "t1"."dt" <= MAKE_DATE(2026, 3, 31)
    )
    AND (
      "t1"."dt" >= MAKE_DATE(2026, 3, 2)
    )
    AND (
      "t1"."direction" = 'out'
    )) AS "outflow_amount_30d",
  MAX("t1"."amount") FILTER(WHERE
    (
      "t1"."dt" <= MAKE_DATE(2026, 3, 31)
    )
    AND (
      "t1"."dt" >= MAKE_DATE(2026, 3, 27)
    )
    AND (
      "t1"."direction" = 'in'
    )) AS "max_inflow_5d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t1"."dt" <= MAKE_DATE(2026, 3, 31)
      ) AND (
        "t1"."direction" = 'in'
      )),
    0
  ) AS "deposit_count_all"
FROM (
  SELECT
    *
  FROM "memtable_0" AS "t0"
  WHERE
    "t0"."dt" <= MAKE_DATE(2026, 3, 31) AND "t0"."customer_no" IS NOT NULL
) AS "t1"
GROUP BY
  1

;

SELECT
  "t1"."customer_no",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t1"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t1"."dt" >= MAKE_DATE(2026, 3, 2)
      )),
    0
  ) AS "trade_count_30d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t1"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t1"."dt" >= MAKE_DATE(2026, 1, 1)
      )),
    0
  ) AS "trade_count_90d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t1"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t1"."dt" >= MAKE_DATE(2025, 10, 3)
      )),
    0
  ) AS "trade_count_180d",
  SUM("t1"."amount") FILTER(WHERE
    (
      "t1"."dt" <= MAKE_DATE(2026, 3, 31)
    )
    AND (
      "t1"."dt" >= MAKE_DATE(2025, 10, 3)
    )) AS "trade_amount_180d",
  DATE_DIFF(
    'DAY',
    MAX("t1"."dt") FILTER(WHERE
      "t1"."dt" <= MAKE_DATE(2026, 3, 31)),
    MAKE_DATE(2026, 3, 31)
  ) AS "days_since_last_trade",
  DATE_DIFF(
    'DAY',
    MIN("t1"."dt") FILTER(WHERE
      "t1"."dt" <= MAKE_DATE(2026, 3, 31)),
    MAKE_DATE(2026, 3, 31)
  ) AS "days_since_first_trade",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t1"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t1"."dt" >= MAKE_DATE(2026, 1, 1)
      )
      AND "t1"."channel" IN ('app', 'web')),
    0
  ) AS "online_trade_count_90d",
  SUM("t1"."amount") FILTER(WHERE
    (
      "t1"."dt" <= MAKE_DATE(2026, 3, 31)
    )
    AND (
      "t1"."dt" >= MAKE_DATE(2026, 1, 1)
    )
    AND (
      "t1"."side" = 'subscribe'
    )) AS "fund_subscribe_amount_90d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t1"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t1"."dt" >= MAKE_DATE(2026, 1, 1)
      )
      AND "t1"."side" IN ('subscribe', 'redeem')),
    0
  ) AS "fund_trade_count_90d"
FROM (
  SELECT
    *
  FROM "memtable_0" AS "t0"
  WHERE
    "t0"."dt" <= MAKE_DATE(2026, 3, 31) AND "t0"."customer_no" IS NOT NULL
) AS "t1"
GROUP BY
  1

;

SELECT
  "t7"."customer_no",
  NULLIF(COUNT(DISTINCT "t7"."_td0") FILTER(WHERE
    "t7"."_td0" IS NOT NULL), 0) AS "trade_days_20td"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t5".*
      EXCLUDE ("_td0_dt")
    FROM (
      SELECT
        "t4"."trade_id",
        "t4"."customer_no",
        "t4"."time",
        "t4"."product_code",
        "t4"."side",
        "t4"."quantity",
        "t4"."amount",
        "t4"."channel",
        "t4"."attributes",
        "t4"."dt",
        "t2"."_td0_dt",
        "t2"."_td0"
      FROM (
        SELECT
          *
        FROM "memtable_0" AS "t0"
        WHERE
          "t0"."dt" <= MAKE_DATE(2026, 3, 31) AND "t0"."dt" >= MAKE_DATE(2026, 3, 4)
      ) AS "t4"
      LEFT OUTER JOIN "memtable_1" AS "t2"
        ON "t4"."dt" = "t2"."_td0_dt"
    ) AS "t5"
  ) AS "t6"
  WHERE
    "t6"."customer_no" IS NOT NULL
) AS "t7"
GROUP BY
  1

;

SELECT
  "t14"."customer_no",
  COUNT(*) FILTER(WHERE
    "t14"."_held") AS "holding_count",
  COALESCE(SUM("t14"."market_value") FILTER(WHERE
    "t14"."_held"), 0) AS "holding_value",
  MAX("t14"."market_value") FILTER(WHERE
    "t14"."_held") AS "holding_top_value",
  COALESCE(SUM("t14"."cost") FILTER(WHERE
    "t14"."_held"), 0) AS "holding_cost"
FROM (
  SELECT
    "t13".*
    EXCLUDE ("customer_no_right", "latest_dt")
  FROM (
    SELECT
      "t12"."customer_no",
      "t12"."latest_dt",
      "t12"."customer_no_right",
      "t12"."date",
      "t12"."product_code",
      "t12"."quantity",
      "t12"."market_value",
      "t12"."cost",
      "t12"."attributes",
      "t12"."dt",
      "t12"."customer_no_right" IS NOT NULL AS "_held"
    FROM (
      SELECT
        "t11"."customer_no",
        "t11"."latest_dt",
        "t6"."customer_no" AS "customer_no_right",
        "t6"."date",
        "t6"."product_code",
        "t6"."quantity",
        "t6"."market_value",
        "t6"."cost",
        "t6"."attributes",
        "t6"."dt"
      FROM (
        SELECT
          "t9"."customer_no",
          MAX("t9"."dt") AS "latest_dt"
        FROM (
          SELECT
            *
          FROM (
            SELECT
              "t0"."customer_no",
              "t0"."dt"
            FROM "memtable_0" AS "t0"
            WHERE
              "t0"."dt" <= MAKE_DATE(2026, 3, 31)
              AND "t0"."dt" >= MAKE_DATE(2026, 3, 24)
              AND "t0"."customer_no" IS NOT NULL
          ) AS "t4"
          UNION ALL
          SELECT
            *
          FROM (
            SELECT
              "t7"."customer_no",
              "t7"."dt"
            FROM (
              SELECT
                *
              FROM (
                SELECT
                  *
                FROM "memtable_1" AS "t1"
                WHERE
                  "t1"."dt" <= MAKE_DATE(2026, 3, 31) AND "t1"."dt" >= MAKE_DATE(2026, 3, 24)
              ) AS "t5"
              WHERE
                "t5"."dt" IN (
                  SELECT DISTINCT
                    "t0"."dt"
                  FROM "memtable_0" AS "t0"
                )
            ) AS "t7"
          ) AS "t8"
        ) AS "t9"
        GROUP BY
          1
      ) AS "t11"
      LEFT OUTER JOIN (
        SELECT
          *
        FROM "memtable_0" AS "t0"
        WHERE
          "t0"."dt" <= MAKE_DATE(2026, 3, 31)
          AND "t0"."dt" >= MAKE_DATE(2026, 3, 24)
          AND "t0"."customer_no" IS NOT NULL
      ) AS "t6"
        ON "t11"."customer_no" = "t6"."customer_no" AND "t11"."latest_dt" = "t6"."dt"
    ) AS "t12"
  ) AS "t13"
) AS "t14"
GROUP BY
  1

;

SELECT
  "t11"."customer_no",
  NULLIF(
    COUNT(DISTINCT "t11"."dt") FILTER(WHERE
      (
        "t11"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t11"."dt" >= MAKE_DATE(2026, 3, 25)
      )
      AND (
        "t11"."event" = 'login'
      )),
    0
  ) AS "login_days_7d",
  NULLIF(
    COUNT(DISTINCT "t11"."dt") FILTER(WHERE
      (
        "t11"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t11"."dt" >= MAKE_DATE(2026, 3, 2)
      )
      AND (
        "t11"."event" = 'login'
      )),
    0
  ) AS "login_days_30d"
FROM (
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM "memtable_0" AS "t0"
      WHERE
        "t0"."dt" <= MAKE_DATE(2026, 3, 31)
        AND "t0"."dt" >= MAKE_DATE(2026, 3, 2)
        AND "t0"."event" IN ('login')
        AND "t0"."customer_no" IS NOT NULL
    ) AS "t3"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        "t8"."event_id",
        "t8"."event",
        "t8"."distinct_id",
        "t8"."customer_no",
        "t8"."login_id",
        "t8"."anonymous_id",
        "t8"."time",
        "t8"."properties",
        "t8"."source",
        "t8"."project",
        "t8"."dt"
      FROM (
        SELECT
          "t7".*
          EXCLUDE ("customer_no_right", "id_value")
        FROM (
          SELECT
            "t6"."event_id",
            "t6"."event",
            "t6"."distinct_id",
            COALESCE("t6"."customer_no", "t6"."customer_no_right") AS "customer_no",
            "t6"."login_id",
            "t6"."anonymous_id",
            "t6"."time",
            "t6"."properties",
            "t6"."source",
            "t6"."project",
            "t6"."dt",
            "t6"."id_value",
            "t6"."person_uid",
            "t6"."customer_no_right"
          FROM (
            SELECT
              "t5"."event_id",
              "t5"."event",
              "t5"."distinct_id",
              "t5"."customer_no",
              "t5"."login_id",
              "t5"."anonymous_id",
              "t5"."time",
              "t5"."properties",
              "t5"."source",
              "t5"."project",
              "t5"."dt",
              "t2"."id_value",
              "t2"."person_uid",
              "t2"."customer_no" AS "customer_no_right"
            FROM (
              SELECT
                *
              FROM "memtable_0" AS "t0"
              WHERE
                "t0"."dt" <= MAKE_DATE(2026, 3, 31)
                AND "t0"."dt" >= MAKE_DATE(2026, 3, 2)
                AND "t0"."event" IN ('login')
                AND "t0"."customer_no" IS NULL
            ) AS "t5"
            LEFT OUTER JOIN "memtable_1" AS "t2"
              ON "t5"."distinct_id" = "t2"."id_value"
          ) AS "t6"
        ) AS "t7"
      ) AS "t8"
    ) AS "t9"
  ) AS "t10"
  WHERE
    "t10"."customer_no" IS NOT NULL
) AS "t11"
GROUP BY
  1

;

SELECT
  "t17"."customer_no",
  DATE_DIFF(
    'DAY',
    MAX("t17"."dt") FILTER(WHERE
      (
        "t17"."dt" <= MAKE_DATE(2026, 3, 31)
      ) AND (
        "t17"."event" = 'login'
      )),
    MAKE_DATE(2026, 3, 31)
  ) AS "days_since_last_login",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t17"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t17"."dt" >= MAKE_DATE(2026, 3, 2)
      )
      AND (
        "t17"."event" = 'content_view'
      )),
    0
  ) AS "content_view_30d",
  FIRST(
    CASE
      WHEN JSON_TYPE(
        CAST("t17"."properties" AS JSON) -> (
          SELECT
            *
          FROM "memtable_0" AS "t1"
        )
      ) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN')
      THEN (
        CAST("t17"."properties" AS JSON) -> (
          SELECT
            *
          FROM "memtable_0" AS "t1"
        )
      ) ->> '$'
      ELSE CAST(NULL AS TEXT)
    END ORDER BY {'at': "t17"."time", 'tie': "t17"."event_id"} DESC
  ) FILTER(WHERE
    (
      "t17"."dt" <= MAKE_DATE(2026, 3, 31)
    )
    AND (
      "t17"."dt" >= MAKE_DATE(2026, 3, 2)
    )
    AND (
      "t17"."event" = 'content_view'
    )) AS "last_topic_30d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t17"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t17"."dt" >= MAKE_DATE(2026, 3, 2)
      )
      AND (
        "t17"."event" = 'fund_detail_view'
      )),
    0
  ) AS "fund_view_count_30d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t17"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t17"."dt" >= MAKE_DATE(2026, 3, 2)
      )
      AND (
        (
          "t17"."event" = 'fund_detail_view'
        )
        AND (
          FALSE
          OR COALESCE(
            CASE
              WHEN JSON_TYPE(
                CAST("t17"."properties" AS JSON) -> (
                  SELECT
                    *
                  FROM "memtable_1" AS "t4"
                )
              ) = 'VARCHAR'
              THEN (
                CAST("t17"."properties" AS JSON) -> (
                  SELECT
                    *
                  FROM "memtable_1" AS "t4"
                )
              ) ->> '$'
              ELSE NULL
            END IN ('equity', 'index'),
            FALSE
          )
        )
      )),
    0
  ) AS "fund_view_equity_30d",
  FIRST(
    CASE
      WHEN JSON_TYPE(
        CAST("t17"."properties" AS JSON) -> (
          SELECT
            *
          FROM "memtable_2" AS "t2"
        )
      ) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN')
      THEN (
        CAST("t17"."properties" AS JSON) -> (
          SELECT
            *
          FROM "memtable_2" AS "t2"
        )
      ) ->> '$'
      ELSE CAST(NULL AS TEXT)
    END ORDER BY {'at': "t17"."time", 'tie': "t17"."event_id"} DESC
  ) FILTER(WHERE
    (
      "t17"."dt" <= MAKE_DATE(2026, 3, 31)
    )
    AND (
      "t17"."dt" >= MAKE_DATE(2026, 3, 2)
    )
    AND (
      "t17"."event" = 'fund_detail_view'
    )) AS "last_fund_type_30d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t17"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t17"."dt" >= MAKE_DATE(2026, 1, 1)
      )
      AND (
        "t17"."event" = 'fund_subscribe'
      )),
    0
  ) AS "fund_subscribe_count_90d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t17"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t17"."dt" >= MAKE_DATE(2026, 1, 1)
      )
      AND (
        "t17"."event" = 'autoinvest_deduction'
      )),
    0
  ) AS "autoinvest_deductions_90d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t17"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t17"."dt" >= MAKE_DATE(2026, 1, 1)
      )
      AND (
        "t17"."event" = 'autoinvest_deduction_failed'
      )),
    0
  ) AS "autoinvest_failures_90d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t17"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t17"."dt" >= MAKE_DATE(2026, 1, 1)
      )
      AND (
        "t17"."event" = 'ipo_subscribe'
      )),
    0
  ) AS "ipo_subscribe_count_90d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t17"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t17"."dt" >= MAKE_DATE(2025, 4, 1)
      )
      AND (
        "t17"."event" = 'ipo_allotment'
      )),
    0
  ) AS "ipo_win_count_365d",
  NULLIF(
    COUNT(*) FILTER(WHERE
      (
        "t17"."dt" <= MAKE_DATE(2026, 3, 31)
      )
      AND (
        "t17"."dt" >= MAKE_DATE(2025, 4, 1)
      )
      AND (
        "t17"."event" = 'ipo_forfeit'
      )),
    0
  ) AS "ipo_forfeit_count_365d"
FROM (
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM "memtable_3" AS "t0"
      WHERE
        "t0"."dt" <= MAKE_DATE(2026, 3, 31)
        AND "t0"."event" IN (
          'autoinvest_deduction',
          'autoinvest_deduction_failed',
          'content_view',
          'fund_detail_view',
          'fund_subscribe',
          'ipo_allotment',
          'ipo_forfeit',
          'ipo_subscribe',
          'login'
        )
        AND "t0"."customer_no" IS NOT NULL
    ) AS "t9"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        "t14"."event_id",
        "t14"."event",
        "t14"."distinct_id",
        "t14"."customer_no",
        "t14"."login_id",
        "t14"."anonymous_id",
        "t14"."time",
        "t14"."properties",
        "t14"."source",
        "t14"."project",
        "t14"."dt"
      FROM (
        SELECT
          "t13".*
          EXCLUDE ("customer_no_right", "id_value")
        FROM (
          SELECT
            "t12"."event_id",
            "t12"."event",
            "t12"."distinct_id",
            COALESCE("t12"."customer_no", "t12"."customer_no_right") AS "customer_no",
            "t12"."login_id",
            "t12"."anonymous_id",
            "t12"."time",
            "t12"."properties",
            "t12"."source",
            "t12"."project",
            "t12"."dt",
            "t12"."id_value",
            "t12"."person_uid",
            "t12"."customer_no_right"
          FROM (
            SELECT
              "t11"."event_id",
              "t11"."event",
              "t11"."distinct_id",
              "t11"."customer_no",
              "t11"."login_id",
              "t11"."anonymous_id",
              "t11"."time",
              "t11"."properties",
              "t11"."source",
              "t11"."project",
              "t11"."dt",
              "t5"."id_value",
              "t5"."person_uid",
              "t5"."customer_no" AS "customer_no_right"
            FROM (
              SELECT
                *
              FROM "memtable_3" AS "t0"
              WHERE
                "t0"."dt" <= MAKE_DATE(2026, 3, 31)
                AND "t0"."event" IN (
                  'autoinvest_deduction',
                  'autoinvest_deduction_failed',
                  'content_view',
                  'fund_detail_view',
                  'fund_subscribe',
                  'ipo_allotment',
                  'ipo_forfeit',
                  'ipo_subscribe',
                  'login'
                )
                AND "t0"."customer_no" IS NULL
            ) AS "t11"
            LEFT OUTER JOIN "memtable_4" AS "t5"
              ON "t11"."distinct_id" = "t5"."id_value"
          ) AS "t12"
        ) AS "t13"
      ) AS "t14"
    ) AS "t15"
  ) AS "t16"
  WHERE
    "t16"."customer_no" IS NOT NULL
) AS "t17"
GROUP BY
  1
