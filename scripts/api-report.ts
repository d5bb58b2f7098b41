/**
 * The public API report of every package: each entry point of its `exports` map, every name it
 * exports, and that name's signature as the type checker sees it (functions, class members,
 * interface fields, type aliases, constants). Checked in as api/<package>.api.md, so that a
 * change to what users can import shows up as a diff in review, the way api-extractor's reports
 * do for OpenTelemetry.
 *
 *   npm run api:update          rewrite api/*.api.md from the sources
 *   test/api-report.test.ts     fails when a report is out of date
 *
 * Private and protected class members, and anything not reachable from an entry point, are not
 * part of the report.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const REPORT_DIR = join(ROOT, 'api');
/** Published packages: folder under packages/ → report file name. */
export const PACKAGE_DIRS = ['core', 'sdk', 'detect', 'ratelimit', 'detector', 'cli'];

const SOURCE_CONDITION = '@llmsec/source';
const FORMAT =
  ts.TypeFormatFlags.NoTruncation |
  ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType |
  ts.TypeFormatFlags.WriteArrowStyleSignature;

interface PackageJson {
  name: string;
  exports: Record<string, string | Record<string, string>>;
}

interface Entry {
  subpath: string;
  file: string;
}

function entriesOf(dir: string): { name: string; entries: Entry[] } {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as PackageJson;
  const entries: Entry[] = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue; // package.json and plain files
    const source = target[SOURCE_CONDITION];
    if (source?.endsWith('.ts')) entries.push({ subpath, file: join(ROOT, 'packages', dir, source) });
  }
  return { name: pkg.name, entries };
}

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(ROOT, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT, undefined, configPath);
  return { ...parsed.options, noEmit: true };
}

/** Report text is machine-independent: absolute paths in printed types become repo-relative. */
function clean(text: string): string {
  return text
    .split(ROOT)
    .join('')
    .replace(/import\("(?:\.\.\/)*node_modules\//g, 'import("');
}

class Printer {
  private readonly checker: ts.TypeChecker;

  constructor(checker: ts.TypeChecker) {
    this.checker = checker;
  }

  exportsOf(sourceFile: ts.SourceFile): string[] {
    const moduleSymbol = this.checker.getSymbolAtLocation(sourceFile);
    if (moduleSymbol === undefined) return [];
    const out: string[] = [];
    const exported = this.checker
      .getExportsOfModule(moduleSymbol)
      .sort((a, b) => a.name.localeCompare(b.name));
    for (const symbol of exported) {
      const target = symbol.flags & ts.SymbolFlags.Alias ? this.checker.getAliasedSymbol(symbol) : symbol;
      out.push(...this.describe(symbol.name, target).map(clean));
    }
    return out;
  }

  private describe(name: string, symbol: ts.Symbol): string[] {
    const out: string[] = [];
    const decl = symbol.declarations?.[0];
    const flags = symbol.flags;
    if (flags & ts.SymbolFlags.Class) out.push(this.classText(name, symbol, decl));
    if (flags & ts.SymbolFlags.Interface) out.push(this.interfaceText(name, symbol, decl));
    if (flags & ts.SymbolFlags.TypeAlias) {
      const type = this.checker.getDeclaredTypeOfSymbol(symbol);
      out.push(
        `type ${name}${this.typeParams(decl)} = ${this.typeText(type, decl, ts.TypeFormatFlags.InTypeAlias)};`,
      );
    }
    if (flags & ts.SymbolFlags.Function) {
      const type = this.checker.getTypeOfSymbol(symbol);
      for (const sig of type.getCallSignatures())
        out.push(`function ${name}${this.signatureText(sig, decl)};`);
    }
    if (flags & ts.SymbolFlags.Variable) {
      const type = this.checker.getTypeOfSymbol(symbol);
      const isConst = decl !== undefined && ts.getCombinedNodeFlags(decl) & ts.NodeFlags.Const;
      out.push(`${isConst ? 'const' : 'let'} ${name}: ${this.typeText(type, decl)};`);
    }
    if (out.length === 0) out.push(`${ts.SymbolFlags[flags] ?? 'symbol'} ${name};`);
    return out;
  }

  private classText(name: string, symbol: ts.Symbol, decl: ts.Declaration | undefined): string {
    const lines: string[] = [];
    const heritage =
      decl && ts.isClassDeclaration(decl)
        ? (decl.heritageClauses ?? []).map((h) => ' ' + h.getText()).join('')
        : '';
    const abstract = decl && ts.getCombinedModifierFlags(decl) & ts.ModifierFlags.Abstract ? 'abstract ' : '';
    lines.push(`${abstract}class ${name}${this.typeParams(decl)}${heritage} {`);
    const staticType = this.checker.getTypeOfSymbol(symbol);
    for (const sig of staticType.getConstructSignatures()) {
      const params = sig.parameters.map((p) => this.paramText(p, decl)).join(', ');
      lines.push(`  constructor(${params});`);
    }
    for (const prop of this.checker.getPropertiesOfType(staticType)) {
      if (prop.name === 'prototype' || !this.isPublic(prop)) continue;
      lines.push(...this.memberText(prop, decl).map((l) => `  static ${l}`));
    }
    const instance = this.checker.getDeclaredTypeOfSymbol(symbol);
    for (const prop of this.checker.getPropertiesOfType(instance)) {
      if (!this.isPublic(prop)) continue;
      lines.push(...this.memberText(prop, decl).map((l) => `  ${l}`));
    }
    lines.push('}');
    return lines.join('\n');
  }

  private interfaceText(name: string, symbol: ts.Symbol, decl: ts.Declaration | undefined): string {
    const type = this.checker.getDeclaredTypeOfSymbol(symbol);
    const heritage =
      decl && ts.isInterfaceDeclaration(decl)
        ? (decl.heritageClauses ?? []).map((h) => ' ' + h.getText()).join('')
        : '';
    const lines = [`interface ${name}${this.typeParams(decl)}${heritage} {`];
    for (const sig of type.getCallSignatures()) lines.push(`  ${this.signatureText(sig, decl)};`);
    for (const info of this.checker.getIndexInfosOfType(type)) {
      const key = this.typeText(info.keyType, decl);
      lines.push(`  ${info.isReadonly ? 'readonly ' : ''}[key: ${key}]: ${this.typeText(info.type, decl)};`);
    }
    for (const prop of this.checker.getPropertiesOfType(type))
      lines.push(...this.memberText(prop, decl).map((l) => `  ${l}`));
    lines.push('}');
    return lines.join('\n');
  }

  private memberText(prop: ts.Symbol, decl: ts.Declaration | undefined): string[] {
    const type = this.checker.getTypeOfSymbolAtLocation(prop, decl ?? prop.declarations![0]!);
    const optional = prop.flags & ts.SymbolFlags.Optional ? '?' : '';
    if (prop.flags & ts.SymbolFlags.Method) {
      // An optional method's type is `method | undefined`, a union without call signatures:
      // without the undefined taken off, optional methods were left out of the report.
      return this.checker
        .getNonNullableType(type)
        .getCallSignatures()
        .map((sig) => `${prop.name}${optional}${this.signatureText(sig, decl)};`);
    }
    const readonly = this.isReadonly(prop) ? 'readonly ' : '';
    const accessor =
      prop.flags & ts.SymbolFlags.GetAccessor && !(prop.flags & ts.SymbolFlags.SetAccessor) ? 'get ' : '';
    return [`${accessor}${readonly}${prop.name}${optional}: ${this.typeText(type, decl)};`];
  }

  private signatureText(sig: ts.Signature, decl: ts.Declaration | undefined): string {
    const typeParams = sig.typeParameters?.length
      ? `<${sig.typeParameters.map((t) => this.typeParamText(t, decl)).join(', ')}>`
      : '';
    const params = sig.parameters.map((p) => this.paramText(p, decl)).join(', ');
    return `${typeParams}(${params}): ${this.typeText(sig.getReturnType(), decl)}`;
  }

  private paramText(param: ts.Symbol, decl: ts.Declaration | undefined): string {
    const pdecl = param.declarations?.[0];
    const rest = pdecl && ts.isParameter(pdecl) && pdecl.dotDotDotToken ? '...' : '';
    const optional = pdecl && ts.isParameter(pdecl) && (pdecl.questionToken || pdecl.initializer) ? '?' : '';
    const type = this.checker.getTypeOfSymbolAtLocation(param, pdecl ?? decl!);
    return `${rest}${param.name}${optional}: ${this.typeText(type, decl)}`;
  }

  private typeParamText(tp: ts.TypeParameter, decl: ts.Declaration | undefined): string {
    const constraint = tp.getConstraint();
    const def = tp.getDefault();
    return (
      tp.symbol.name +
      (constraint ? ` extends ${this.typeText(constraint, decl)}` : '') +
      (def ? ` = ${this.typeText(def, decl)}` : '')
    );
  }

  private typeParams(decl: ts.Declaration | undefined): string {
    const params =
      decl && 'typeParameters' in decl
        ? (decl.typeParameters as ts.NodeArray<ts.TypeParameterDeclaration> | undefined)
        : undefined;
    return params?.length ? `<${params.map((p) => p.getText()).join(', ')}>` : '';
  }

  private typeText(type: ts.Type, decl: ts.Declaration | undefined, extra = 0): string {
    return this.checker.typeToString(type, decl, FORMAT | extra);
  }

  private isPublic(prop: ts.Symbol): boolean {
    if (prop.name.startsWith('#') || prop.name.startsWith('__#')) return false;
    const d = prop.valueDeclaration ?? prop.declarations?.[0];
    if (d === undefined) return true;
    return (ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0;
  }

  private isReadonly(prop: ts.Symbol): boolean {
    const d = prop.valueDeclaration ?? prop.declarations?.[0];
    return d !== undefined && (ts.getCombinedModifierFlags(d) & ts.ModifierFlags.Readonly) !== 0;
  }
}

/** Report file name → contents, for every published package. */
export function generateReports(): Map<string, string> {
  const packages = PACKAGE_DIRS.map((dir) => ({ dir, ...entriesOf(dir) }));
  const program = ts.createProgram({
    rootNames: packages.flatMap((p) => p.entries.map((e) => e.file)),
    options: compilerOptions(),
  });
  const printer = new Printer(program.getTypeChecker());
  const reports = new Map<string, string>();
  for (const pkg of packages) {
    const parts = [
      `# API report: ${pkg.name}`,
      '',
      'Generated by `npm run api:update` (scripts/api-report.ts) from the sources of every entry point',
      "in the package's `exports`. Do not edit: a change here is a change to what users can import.",
    ];
    for (const entry of pkg.entries) {
      const sourceFile = program.getSourceFile(entry.file);
      if (sourceFile === undefined)
        throw new Error(`api-report: ${relative(ROOT, entry.file)} is not in the program`);
      const specifier = entry.subpath === '.' ? pkg.name : `${pkg.name}/${entry.subpath.slice(2)}`;
      const body = printer.exportsOf(sourceFile);
      parts.push(
        '',
        `## \`${specifier}\``,
        '',
        `(${relative(ROOT, entry.file)})`,
        '',
        '```ts',
        ...body,
        '```',
      );
    }
    reports.set(`${pkg.dir}.api.md`, parts.join('\n') + '\n');
  }
  return reports;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(REPORT_DIR, { recursive: true });
  for (const [file, text] of generateReports()) {
    writeFileSync(join(REPORT_DIR, file), text);
    console.log(`api/${file}`);
  }
}
