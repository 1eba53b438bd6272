/** A bounded list of recent events for /debug: newest last, oldest dropped. Pure data structure. */
export class Journal<T> {
  private readonly items: T[] = [];
  constructor(private readonly capacity: number) {}

  add(item: T): void {
    this.items.push(item);
    if (this.items.length > this.capacity) this.items.splice(0, this.items.length - this.capacity);
  }

  list(): T[] {
    return [...this.items];
  }
}
