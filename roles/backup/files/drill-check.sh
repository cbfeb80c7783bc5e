# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
# The restore drill's checks, run INSIDE the scratch PostgreSQL container as the OS user
# postgres (docker exec -i ... bash -s -- APP_DB < this): every table's row count in
# every database, the vector extension, a nearest-neighbour query through an HNSW index,
# and pg_amcheck over everything. Prints one line per finding; exits non-zero on a failure.
set -euo pipefail
app_db=$1
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

for db in $(q postgres "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"); do
  tables=$(q "$db" "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1")
  for table in $tables; do
    echo "rows $db $table $(q "$db" "SELECT count(*) FROM $table")"
  done
done

version=$(q "$app_db" "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
if [ -z "$version" ]; then
  echo "FAILED: the vector extension is missing in $app_db" >&2
  exit 1
fi
echo "vector $version"

# Every HNSW index of the application database answers a nearest-neighbour query
# through the index; and a fresh one, built here, proves the extension itself works.
indexes=$(q "$app_db" "SELECT format('%s|%I.%I|%I', i.relname, n.nspname, t.relname, a.attname)
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
  JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
  WHERE am.amname = 'hnsw'")
for entry in $indexes; do
  IFS='|' read -r index table column <<<"$entry"
  answer=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$app_db" <<SQL
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT 1 FROM $table ORDER BY $column <-> (SELECT $column FROM $table LIMIT 1) LIMIT 5) s;
SQL
)
  echo "hnsw $index $answer"
done
nearest=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$app_db" <<'SQL'
CREATE TEMP TABLE cc_drill (id int, embedding vector(8));
INSERT INTO cc_drill SELECT g, array_fill(g::real, ARRAY[8])::vector FROM generate_series(1, 500) g;
CREATE INDEX ON cc_drill USING hnsw (embedding vector_l2_ops);
ANALYZE cc_drill;
SET enable_seqscan = off;
SELECT id FROM cc_drill ORDER BY embedding <-> array_fill(250.2::real, ARRAY[8])::vector LIMIT 1;
SQL
)
if [ "$nearest" != 250 ]; then
  echo "FAILED: the nearest-neighbour query through a new HNSW index answered '$nearest', not 250" >&2
  exit 1
fi
echo "hnsw-new nearest=250"

# pg_amcheck: heap and B-tree checks of every database (amcheck installed in the scratch only).
pg_amcheck --all --install-missing --heapallindexed
echo "amcheck clean"
