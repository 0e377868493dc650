// For scripts that need a running stack with the fake provider (demo, bench): use the profile's
// stack when it is already up, else start one in the background and stop it afterwards.
import { type Profile, ROOT, stackConfig } from "./config.ts";
import { DENO } from "./functions.ts";
import { runningPid } from "./proc.ts";

async function stackCommand(profile: Profile, ...args: string[]) {
  const { code } = await new Deno.Command(DENO, {
    args: ["run", "-A", `${ROOT}/scripts/stack.ts`, ...args, "--profile", profile],
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (code !== 0) Deno.exit(code);
}

export async function withStack<T>(profile: Profile, work: () => Promise<T>): Promise<T> {
  const startedHere = (await runningPid(stackConfig(profile).pidFile)) === null;
  if (startedHere) {
    console.log(`starting the ${profile} stack with the fake LLM provider ...`);
    await stackCommand(profile, "start", "--background", "--fake-provider");
  }
  try {
    return await work();
  } finally {
    if (startedHere) await stackCommand(profile, "stop");
  }
}
