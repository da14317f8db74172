import { type Category, CategorySchema } from '@awasm/shared/gen/awasm/v1/library_service_pb.js';
import { toJson } from '@bufbuild/protobuf';
import type { Command } from 'commander';
import { table } from '../output.js';
import type { CommandContext } from './context.js';

export function categoryTable(categories: Category[]): string {
  return table(
    ['POSITION', 'ID', 'NAME'],
    categories.map((c) => [String(c.position), c.categoryId, c.name]),
  );
}

/** A category named on the command line: by its name (any case) or its id. */
export function findCategory(categories: Category[], nameOrId: string): Category {
  const lower = nameOrId.toLowerCase();
  const found =
    categories.find((c) => c.categoryId === nameOrId) ?? categories.find((c) => c.name.toLowerCase() === lower);
  if (!found) throw new Error(`you have no category '${nameOrId}' (see awasm category list)`);
  return found;
}

/** The ids of categories named on the command line, asking the server for the caller's categories once. */
export async function categoryIds(ctx: CommandContext, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const { categories } = await ctx.library().listCategories({});
  return names.map((name) => findCategory(categories, name).categoryId);
}

function parsePosition(ctx: CommandContext, text: string, count: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n >= count) {
    throw ctx.usage(`position '${text}' must be a whole number from 0 to ${Math.max(0, count - 1)}`);
  }
  return n;
}

/** `awasm category add/list/rename/move/remove`: the caller's own categories. */
export function addCategoryCommands(program: Command, ctx: CommandContext): void {
  const category = program.command('category').description('your library categories, in your order');
  category
    .command('add <name>')
    .description('add a category after your others')
    .action(async (name: string) => {
      const { category: added } = await ctx.library().addCategory({ name });
      if (!added) throw new Error('server answered without the category');
      ctx.print(`added category '${added.name}' (${added.categoryId})`, toJson(CategorySchema, added));
    });
  category
    .command('list')
    .description('list your categories')
    .action(async () => {
      const { categories } = await ctx.library().listCategories({});
      ctx.print(
        categories.length ? categoryTable(categories) : 'no categories',
        categories.map((c) => toJson(CategorySchema, c)),
      );
    });
  category
    .command('rename <category> <name>')
    .description('rename a category (given by name or id)')
    .action(async (nameOrId: string, name: string) => {
      const { categories } = await ctx.library().listCategories({});
      const { categoryId } = findCategory(categories, nameOrId);
      const { category: renamed } = await ctx.library().renameCategory({ categoryId, name });
      if (!renamed) throw new Error('server answered without the category');
      ctx.print(`renamed to '${renamed.name}'`, toJson(CategorySchema, renamed));
    });
  category
    .command('move <category> <position>')
    .description('move a category to a 0-based position in your order')
    .action(async (nameOrId: string, positionText: string) => {
      const { categories } = await ctx.library().listCategories({});
      const moving = findCategory(categories, nameOrId);
      const position = parsePosition(ctx, positionText, categories.length);
      const order = categories.map((c) => c.categoryId).filter((id) => id !== moving.categoryId);
      order.splice(position, 0, moving.categoryId);
      const { categories: reordered } = await ctx.library().reorderCategories({ categoryIds: order });
      ctx.print(
        categoryTable(reordered),
        reordered.map((c) => toJson(CategorySchema, c)),
      );
    });
  category
    .command('remove <category>')
    .description('remove a category; its entries stay in the library')
    .action(async (nameOrId: string) => {
      const { categories } = await ctx.library().listCategories({});
      const { categoryId, name } = findCategory(categories, nameOrId);
      await ctx.library().removeCategory({ categoryId });
      ctx.print(`removed category '${name}'`, { removed: categoryId });
    });
}
