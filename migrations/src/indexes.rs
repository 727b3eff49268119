//! Several indexes on one table made (or dropped) from a list of their
//! names and columns, for migrations that add a few at once.

use sea_orm_migration::prelude::*;

/// An index's name and its columns, in order.
pub(crate) type Named<C> = (&'static str, &'static [C]);

/// Make each index of `indexes` on `table`.
pub(crate) async fn create<C: Iden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    table: C,
    indexes: &[Named<C>],
) -> Result<(), DbErr> {
    for (name, cols) in indexes {
        let mut index = Index::create();
        index.name(*name).table(table);
        for col in *cols {
            index.col(*col);
        }
        manager.create_index(index.to_owned()).await?;
    }
    Ok(())
}

/// Drop each index of `indexes` from `table`.
pub(crate) async fn drop<C: Iden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    table: C,
    indexes: &[Named<C>],
) -> Result<(), DbErr> {
    for (name, _) in indexes {
        manager.drop_index(Index::drop().name(*name).table(table).to_owned()).await?;
    }
    Ok(())
}
