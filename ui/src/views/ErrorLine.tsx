/** A failure to show where it happened, announced to screen readers; nothing when null. */
export function ErrorLine({
  message,
  inline = false,
}: {
  message: string | null | undefined;
  inline?: boolean;
}) {
  if (!message) return null;
  return inline ? (
    <span role="alert" class="error">
      {message}
    </span>
  ) : (
    <p role="alert" class="error">
      {message}
    </p>
  );
}
