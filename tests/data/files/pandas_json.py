"""What pandas 3.1.1 writes for the test frame of `test_json_shapes` with
`DataFrame.to_json(orient=..., date_format="iso")`, and for the same frame indexed by its date
where the orient writes the index ("-indexed"). Kept as text so the test needs no pandas,
which is no dependency of ares."""

from __future__ import annotations

WRITTEN_BY_PANDAS: dict[str, str] = {
    "values": (
        '[["2024-01-01T00:00:00.000Z",1.0,2.0,0.5,1.5,10.0],["2024-01-01T00:05:00.000Z",2'
        '.0,3.0,1.0,2.5,0.0],["2024-01-01T00:10:00.000Z",3.0,4.0,2.0,3.5,3.0]]'
    ),
    "records": (
        '[{"date":"2024-01-01T00:00:00.000Z","open":1.0,"high":2.0,"low":0.5,"close":1.5,'
        '"volume":10.0},{"date":"2024-01-01T00:05:00.000Z","open":2.0,"high":3.0,"low":1.'
        '0,"close":2.5,"volume":0.0},{"date":"2024-01-01T00:10:00.000Z","open":3.0,"high"'
        ':4.0,"low":2.0,"close":3.5,"volume":3.0}]'
    ),
    "columns": (
        '{"date":{"0":"2024-01-01T00:00:00.000Z","1":"2024-01-01T00:05:00.000Z","2":"2024'
        '-01-01T00:10:00.000Z"},"open":{"0":1.0,"1":2.0,"2":3.0},"high":{"0":2.0,"1":3.0,'
        '"2":4.0},"low":{"0":0.5,"1":1.0,"2":2.0},"close":{"0":1.5,"1":2.5,"2":3.5},"volu'
        'me":{"0":10.0,"1":0.0,"2":3.0}}'
    ),
    "columns-indexed": (
        '{"open":{"2024-01-01T00:00:00.000Z":1.0,"2024-01-01T00:05:00.000Z":2.0,"2024-01-'
        '01T00:10:00.000Z":3.0},"high":{"2024-01-01T00:00:00.000Z":2.0,"2024-01-01T00:05:'
        '00.000Z":3.0,"2024-01-01T00:10:00.000Z":4.0},"low":{"2024-01-01T00:00:00.000Z":0'
        '.5,"2024-01-01T00:05:00.000Z":1.0,"2024-01-01T00:10:00.000Z":2.0},"close":{"2024'
        '-01-01T00:00:00.000Z":1.5,"2024-01-01T00:05:00.000Z":2.5,"2024-01-01T00:10:00.00'
        '0Z":3.5},"volume":{"2024-01-01T00:00:00.000Z":10.0,"2024-01-01T00:05:00.000Z":0.'
        '0,"2024-01-01T00:10:00.000Z":3.0}}'
    ),
    "index": (
        '{"0":{"date":"2024-01-01T00:00:00.000Z","open":1.0,"high":2.0,"low":0.5,"close":'
        '1.5,"volume":10.0},"1":{"date":"2024-01-01T00:05:00.000Z","open":2.0,"high":3.0,'
        '"low":1.0,"close":2.5,"volume":0.0},"2":{"date":"2024-01-01T00:10:00.000Z","open'
        '":3.0,"high":4.0,"low":2.0,"close":3.5,"volume":3.0}}'
    ),
    "index-indexed": (
        '{"2024-01-01T00:00:00.000Z":{"open":1.0,"high":2.0,"low":0.5,"close":1.5,"volume'
        '":10.0},"2024-01-01T00:05:00.000Z":{"open":2.0,"high":3.0,"low":1.0,"close":2.5,'
        '"volume":0.0},"2024-01-01T00:10:00.000Z":{"open":3.0,"high":4.0,"low":2.0,"close'
        '":3.5,"volume":3.0}}'
    ),
    "split": (
        '{"columns":["date","open","high","low","close","volume"],"index":[0,1,2],"data":'
        '[["2024-01-01T00:00:00.000Z",1.0,2.0,0.5,1.5,10.0],["2024-01-01T00:05:00.000Z",2'
        '.0,3.0,1.0,2.5,0.0],["2024-01-01T00:10:00.000Z",3.0,4.0,2.0,3.5,3.0]]}'
    ),
    "split-indexed": (
        '{"columns":["open","high","low","close","volume"],"index":["2024-01-01T00:00:00.'
        '000Z","2024-01-01T00:05:00.000Z","2024-01-01T00:10:00.000Z"],"data":[[1.0,2.0,0.'
        '5,1.5,10.0],[2.0,3.0,1.0,2.5,0.0],[3.0,4.0,2.0,3.5,3.0]]}'
    ),
    "table": (
        '{"schema":{"fields":[{"name":"index","type":"integer"},{"name":"date","type":"da'
        'tetime","tz":"UTC"},{"name":"open","type":"number"},{"name":"high","type":"numbe'
        'r"},{"name":"low","type":"number"},{"name":"close","type":"number"},{"name":"vol'
        'ume","type":"number"}],"primaryKey":["index"],"pandas_version":"1.4.0"},"data":['
        '{"index":0,"date":"2024-01-01T00:00:00.000Z","open":1.0,"high":2.0,"low":0.5,"cl'
        'ose":1.5,"volume":10.0},{"index":1,"date":"2024-01-01T00:05:00.000Z","open":2.0,'
        '"high":3.0,"low":1.0,"close":2.5,"volume":0.0},{"index":2,"date":"2024-01-01T00:'
        '10:00.000Z","open":3.0,"high":4.0,"low":2.0,"close":3.5,"volume":3.0}]}'
    ),
}
