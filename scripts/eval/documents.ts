// The real PDFs `npm run eval` asks about: manuals that Debian ships in its documentation
// packages, written by others, in Korean and in English. Nothing large is committed: the eval
// fetches each package with `apt-get download` and unpacks it with `dpkg-deb -x` into a cache
// folder (EVAL_CACHE_DIR, default <stack cache>/eval-documents), once.
import { exists, output } from "../stack/proc.ts";
import { CACHE_DIR } from "../stack/sources.ts";

export type Language = "ko" | "en";

export interface EvalDocument {
  /** The short name the questions use. */
  key: string;
  language: Language;
  title: string;
  /** The Debian package (bookworm) that ships it, and the file inside it. */
  debianPackage: string;
  path: string;
  license: string;
}

export const DOCUMENTS: EvalDocument[] = [
  {
    key: "lshort-ko",
    language: "ko",
    title: "LaTeX2e 입문 (The Not So Short Introduction to LaTeX2e, Korean translation), 143 pages",
    debianPackage: "texlive-lang-korean",
    path: "usr/share/doc/texlive-doc/latex/lshort-korean/lshort-ko.pdf",
    license: "GNU FDL 1.2 or later",
  },
  {
    key: "kotex-utf",
    language: "ko",
    title: "ko.TeX-utf 사용설명서 (the kotex-utf manual), 67 pages",
    debianPackage: "texlive-lang-korean",
    path: "usr/share/doc/texlive-doc/latex/kotex-utf/kotex-utf-doc.pdf",
    license: "LPPL 1.3c or later",
  },
  {
    key: "oblivoir",
    language: "ko",
    title: "oblivoir 클래스 간단한 사용설명서 (the oblivoir class manual), 30 pages",
    debianPackage: "texlive-lang-korean",
    path: "usr/share/doc/texlive-doc/latex/kotex-oblivoir/oblivoir-simpledoc.pdf",
    license: "LPPL 1.3c or later",
  },
  {
    key: "pmhanguljamo",
    language: "ko",
    title: "pmhanguljamo 사용설명서 (Poorman's Hangul Jamo input method manual), 22 pages",
    debianPackage: "texlive-lang-korean",
    path: "usr/share/doc/texlive-doc/latex/pmhanguljamo/pmhanguljamo-kdoc.pdf",
    license: "LPPL 1.3c or later",
  },
  {
    key: "bashref",
    language: "en",
    title: "Bash Reference Manual (bash 5.2), 196 pages",
    debianPackage: "bash-doc",
    path: "usr/share/doc/bash/bashref.pdf",
    license: "GNU FDL 1.3 or later",
  },
  {
    key: "debian-faq",
    language: "en",
    title: "The Debian GNU/Linux FAQ (English), 73 pages",
    debianPackage: "debian-faq",
    path: "usr/share/doc/debian/FAQ/debian-faq.en.pdf.gz",
    license: "verbatim and modified copies permitted (Software in the Public Interest; the package's copyright file)",
  },
];

export const EVAL_CACHE = Deno.env.get("EVAL_CACHE_DIR") ?? `${CACHE_DIR}/eval-documents`;

async function must(cmd: string, args: string[], cwd: string) {
  const res = await output(cmd, args, { cwd });
  if (res.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (exit ${res.code}): ${(res.stderr || res.stdout).trim().split("\n").at(-1)}`,
    );
  }
}

/** The PDF's bytes: from the cache, else its package is downloaded and unpacked there first. */
export async function documentBytes(doc: EvalDocument): Promise<Uint8Array<ArrayBuffer>> {
  const root = `${EVAL_CACHE}/${doc.debianPackage}`;
  if (!(await exists(`${root}/.unpacked`))) {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.mkdir(root, { recursive: true });
    console.log(`fetching Debian package ${doc.debianPackage} (apt-get download) into ${root} ...`);
    await must("apt-get", ["download", "-q", doc.debianPackage], root);
    const deb = [...Deno.readDirSync(root)].find((e) => e.name.endsWith(".deb"))!.name;
    await must("dpkg-deb", ["-x", deb, "tree"], root);
    await Deno.remove(`${root}/${deb}`);
    await Deno.writeTextFile(`${root}/.unpacked`, `${deb}\n`);
  }
  const file = `${root}/tree/${doc.path}`;
  if (!doc.path.endsWith(".gz")) return await Deno.readFile(file);
  const res = await new Deno.Command("gzip", { args: ["-dc", file], stdout: "piped" }).output();
  if (res.code !== 0) throw new Error(`gzip -dc ${file} failed`);
  return res.stdout;
}
