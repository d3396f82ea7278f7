/**
 * Connection aliases for stream transports: other addresses a peer is known by that lead to one
 * of its open connections.
 *
 * A WebSocket client cannot be dialled: its Contact and Via name a `.invalid` host (RFC 7118 §5),
 * so every request to it must go back over the connection it opened. A TLS phone is in the same
 * position in practice: its Contact names its own TLS listener, which usually has no certificate a
 * server could verify. The transport layer therefore records the Contact address of what arrives
 * on such a connection as an alias of it (the idea of RFC 5923's `alias`, bounded), and a send to
 * that address uses the connection while it is open. First come, first served: an alias held by
 * an open connection is not taken over by another one (no hijacking another client's requests).
 */

export class ConnectionAliases {
  /** alias key → connection key */
  private readonly byAlias = new Map<string, string>();
  /** connection key → its aliases, oldest first */
  private readonly byConnection = new Map<string, string[]>();

  constructor(private readonly maxPerConnection = 4) {}

  get size(): number {
    return this.byAlias.size;
  }

  /** Records `alias` for `connection`; false when another connection already holds it. */
  add(alias: string, connection: string): boolean {
    if (alias === connection) return false;
    const owner = this.byAlias.get(alias);
    if (owner !== undefined) return owner === connection;
    const list = this.byConnection.get(connection) ?? [];
    // A client re-registering with a new Contact must not grow the table without bound.
    if (list.length >= this.maxPerConnection) this.byAlias.delete(list.shift()!);
    list.push(alias);
    this.byConnection.set(connection, list);
    this.byAlias.set(alias, connection);
    return true;
  }

  /** The connection key an alias leads to, if any. */
  resolve(alias: string): string | undefined {
    return this.byAlias.get(alias);
  }

  /** Forgets every alias of a closed connection. */
  dropConnection(connection: string): void {
    const list = this.byConnection.get(connection);
    if (!list) return;
    for (const a of list) this.byAlias.delete(a);
    this.byConnection.delete(connection);
  }

  clear(): void {
    this.byAlias.clear();
    this.byConnection.clear();
  }
}
