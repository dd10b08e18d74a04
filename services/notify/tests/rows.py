"""Reading notify's tables as they are stored, to check what is (not) in clear."""


def raw_row(pool, message_id):
    with pool.connection() as conn:
        cursor = conn.execute("SELECT * FROM notify.messages WHERE id = %s", (message_id,))
        names = [column.name for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))
