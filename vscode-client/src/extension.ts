// Placeholder until the extension's entry point lands (issue 6).
export async function activate(): Promise<void> {}
export async function deactivate(): Promise<void> {}
