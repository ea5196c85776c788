/** Lets a route wait until the views include what its command appended. */
export interface ReadYourWrites {
  waitFor(position: number, timeoutMs?: number): Promise<boolean>;
}
