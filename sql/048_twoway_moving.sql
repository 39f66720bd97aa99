-- 048_twoway_moving: the links left MOVING (state 2) by a crash, found at
-- the start of every two-way run over several folders
-- (store_twoway_any_moving) without reading every link of the account: a
-- partial index that holds only those (normally none).
CREATE INDEX upstream_links_moving ON upstream_links(upstream_id) WHERE state = 2;
